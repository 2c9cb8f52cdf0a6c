package systemd

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openimsdk/openim-deploy/internal/shellcheck"
	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/target/local"
)

// TestScriptsPassShellcheck runs shellcheck over systemd's on-host scripts.
func TestScriptsPassShellcheck(t *testing.T) {
	shellcheck.Check(t, "scripts/*.sh", nil)
}

// TestResetAndRestartScript runs reset_restart.sh in a real /bin/sh with a
// fake systemctl first on PATH: one reset-failed and one restart of every
// unit, reset-failed's failure ignored, and the restart's status and
// stderr passed through for FailedJobs.
func TestResetAndRestartScript(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("ResetAndRestart asks for sudo: run as root (make test does)")
	}
	bin, log := t.TempDir(), filepath.Join(t.TempDir(), "calls")
	fake := `#!/bin/sh
echo "$*" >>"$FAKE_LOG"
case $1 in
reset-failed) exit 1 ;;
restart) [ -z "$FAKE_FAIL" ] || { echo "Job for $FAKE_FAIL failed because the control process exited with error code." >&2; exit 1; } ;;
esac
`
	if err := os.WriteFile(filepath.Join(bin, "systemctl"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	t.Setenv("FAKE_LOG", log)
	t.Setenv("FAKE_FAIL", "")
	h := local.New("h", "")
	units := []string{"a@0.service", "a@1.service"}
	if err := ResetAndRestart(t.Context(), h, units...); err != nil {
		t.Fatalf("ResetAndRestart: %v", err)
	}
	got, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if want := "reset-failed -- a@0.service a@1.service\nrestart -- a@0.service a@1.service\n"; string(got) != want {
		t.Errorf("systemctl calls = %q, want %q", got, want)
	}

	t.Setenv("FAKE_FAIL", "a@1.service")
	err = ResetAndRestart(t.Context(), h, units...)
	var ee *target.ExitError
	if !errors.As(err, &ee) || ee.Code != 1 {
		t.Fatalf("a failed restart: err = %v, want exit status 1", err)
	}
	if failed := FailedJobs(err, units); strings.Join(failed, " ") != "a@1.service" {
		t.Errorf("FailedJobs = %v, want a@1.service", failed)
	}
}

// TestResetAndRestartScriptIsSentOnOneLine pins that the script sent ends
// at its exec, with no newline before the units.
func TestResetAndRestartScriptIsSentOnOneLine(t *testing.T) {
	if !strings.HasSuffix(resetAndRestartScript, `exec systemctl restart -- "$@"`) {
		t.Errorf("reset_restart.sh, as sent, ends %q", resetAndRestartScript[max(0, len(resetAndRestartScript)-40):])
	}
}
