package cli_test

import (
	"errors"
	"flag"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/openimsdk/openim-deploy/internal/cli"
)

// TestMain lets testscript re-execute this test binary as openim-deploy,
// so the scripts run the real command line with no separate build step.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"openim-deploy": func() { os.Exit(cli.Main()) },
	})
}

var update = flag.Bool("update", false, "rewrite golden files and expected output in scripts")

// TestScript runs the end-to-end scripts in testdata/script: each pins one
// contract of the command line (its comment says which).
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		UpdateScripts:       *update,
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode": cmdExitCode, // exitcode 3 openim-deploy validate -i bad.hcl
		},
	})
}

// cmdExitCode runs a program as exec does and fails unless it exits with
// exactly the given code; stdout and stderr are then checked as after exec.
// `! exec` only asserts "non-zero", and the exit codes are part of the
// command line's contract (internal/cli/exit.go).
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! exitcode")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: exitcode CODE program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: bad code %q", args[0])
	}
	got := 0
	var exitErr *exec.ExitError
	switch err := ts.Exec(args[1], args[2:]...); {
	case err == nil:
	case errors.As(err, &exitErr):
		got = exitErr.ExitCode()
	default:
		ts.Fatalf("exitcode: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited with code %d, want %d", args[1], got, want)
	}
}
