package target

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// TestStreamScript_KillsOnStdinEOF pins the lifeline contract of
// StreamScript in a real /bin/sh: a command that would run for a minute ends
// as soon as its stdin closes, and the script reports it killed (143).
func TestStreamScript_KillsOnStdinEOF(t *testing.T) {
	args := StreamArgs([]string{"sleep", "60"})
	c := exec.CommandContext(t.Context(), args[0], args[1:]...)
	stdin, err := c.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := stdin.Write([]byte("ignored line\n")); err != nil {
		t.Fatal(err)
	}
	if err := stdin.Close(); err != nil {
		t.Fatal(err)
	}
	err = c.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 143 {
		t.Fatalf("wait = %v, want exit status 143 (killed by SIGTERM)", err)
	}
}

// TestStreamScript_PassesOutputAndStatus pins that the wrapper is
// transparent for a command that ends by itself: same output, same status.
func TestStreamScript_PassesOutputAndStatus(t *testing.T) {
	args := StreamArgs([]string{"sh", "-c", "echo out; echo err >&2; exit 7", "x y"})
	c := exec.CommandContext(t.Context(), args[0], args[1:]...)
	// Stdin stays open (a pipe nobody closes until Wait) as a client's does.
	if _, err := c.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	var out, errb strings.Builder
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 7 {
		t.Fatalf("run = %v, want exit status 7", err)
	}
	if out.String() != "out\n" || errb.String() != "err\n" {
		t.Fatalf("stdout %q stderr %q", out.String(), errb.String())
	}
}
