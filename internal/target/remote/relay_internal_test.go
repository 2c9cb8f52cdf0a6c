package remote

import (
	"bufio"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/openimsdk/openim-deploy/internal/target"
)

// TestRelayScript runs relayScript with the local sh and bash against a
// loopback listener: "ok", then bytes both ways, then the end of stdout
// when the peer closes. It is what runs on a host whose sshd refuses
// forwarding.
func TestRelayScript(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			served <- err.Error()
			return
		}
		line, _ := bufio.NewReader(c).ReadString('\n')
		_, _ = io.WriteString(c, "pong "+line)
		c.Close()
		served <- line
	}()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	pr, pw := io.Pipe()
	argv, stdin, _ := target.WrapScript(target.Cmd{Args: []string{"sh", "-c", relayScript, "sh", "127.0.0.1", port}, Stdin: pr})
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = stdin
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(out)
	if l, err := br.ReadString('\n'); l != "ok\n" {
		t.Fatalf("first line %q, %v", l, err)
	}
	if _, err := io.WriteString(pw, "ping\n"); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(br) // ends when the peer closes
	if err != nil || string(rest) != "pong ping\n" {
		t.Fatalf("relayed %q, %v", rest, err)
	}
	pw.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("relay exit: %v", err)
	}
	if got := <-served; got != "ping\n" {
		t.Fatalf("server read %q", got)
	}
}

// TestRelayScriptRefused pins that a closed port ends the relay without
// "ok", with the reason on stderr.
func TestRelayScriptRefused(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close() // nothing listens there now
	argv, stdin, _ := target.WrapScript(target.Cmd{Args: []string{"sh", "-c", relayScript, "sh", "127.0.0.1", port}})
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = stdin
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err == nil || strings.Contains(string(out), "ok") {
		t.Fatalf("relay to a closed port: %q, %v", out, err)
	}
	if !strings.Contains(stderr.String(), "refused") {
		t.Errorf("stderr does not say why: %q", stderr.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != relayExitConnect {
		t.Errorf("exit status %d, want %d (relayExitConnect)", code, relayExitConnect)
	}
}

// TestRelayScriptWithoutBash pins the status and message of a host without
// bash: the relay cannot start, and says so.
func TestRelayScriptWithoutBash(t *testing.T) {
	head, err := exec.LookPath("head")
	if err != nil {
		t.Skip("head not installed")
	}
	bin := t.TempDir() // what the script wrapper needs, and no bash
	if err := os.Symlink(head, filepath.Join(bin, "head")); err != nil {
		t.Fatal(err)
	}
	argv, stdin, _ := target.WrapScript(target.Cmd{Args: []string{"sh", "-c", relayScript, "sh", "127.0.0.1", "1"}})
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = []string{"PATH=" + bin}
	cmd.Stdin = stdin
	var stderr strings.Builder
	cmd.Stderr = &stderr
	_ = cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != relayExitNoBash || !strings.Contains(stderr.String(), "bash not found") {
		t.Errorf("exit status %d, stderr %q; want %d and \"bash not found\"", code, stderr.String(), relayExitNoBash)
	}
}
