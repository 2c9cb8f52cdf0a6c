package systemd

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/target/targettest"
)

// TestMutatingCommands pins the exact argv of each state-changing call and
// that every one of them asks for sudo and is not marked read-only.
func TestMutatingCommands(t *testing.T) {
	f := targettest.NewFake("im-1")
	f.On(targettest.HasPrefix("systemctl "), targettest.Reply{})
	ctx := t.Context()
	steps := []struct {
		run  func() error
		want string
	}{
		{func() error { return DaemonReload(ctx, f) }, "systemctl daemon-reload"},
		{func() error { return Enable(ctx, f, "a@0.service", "a@1.service") }, "systemctl enable -- a@0.service a@1.service"},
		{func() error { return Disable(ctx, f, "b.service") }, "systemctl disable -- b.service"},
		{func() error { return Start(ctx, f, "openim.target") }, "systemctl start -- openim.target"},
		{func() error { return Stop(ctx, f, "a@0.service") }, "systemctl stop -- a@0.service"},
		{func() error { return Restart(ctx, f, "a@0.service") }, "systemctl restart -- a@0.service"},
		{func() error { return ResetFailed(ctx, f, "a@0.service") }, "systemctl reset-failed -- a@0.service"},
	}
	for _, s := range steps {
		if err := s.run(); err != nil {
			t.Fatalf("%s: %v", s.want, err)
		}
	}
	calls := f.Calls()
	if len(calls) != len(steps) {
		t.Fatalf("got %d calls, want %d: %q", len(calls), len(steps), f.Commands())
	}
	for i, c := range calls {
		if c.Line != steps[i].want || !c.Sudo || c.Cmd.ReadOnly {
			t.Errorf("call %d = %q sudo=%v readonly=%v, want %q sudo=true readonly=false",
				i, c.Line, c.Sudo, c.Cmd.ReadOnly, steps[i].want)
		}
	}
	// No units, no command: "systemctl enable --" alone would be an error.
	f.Reset()
	if err := Enable(ctx, f); err != nil {
		t.Fatal(err)
	}
	if n := len(f.Commands()); n != 0 {
		t.Errorf("Enable() with no units ran %d commands", n)
	}
}

// TestShow pins one read-only round trip for many units, state in argument
// order, and an error when the record count does not match.
func TestShow(t *testing.T) {
	f := targettest.NewFake("im-1")
	f.On(targettest.Equal("systemctl show -p "+ShowProperties+" -- a@0.service a@1"), targettest.Reply{
		Stdout: "Id=a@0.service\nActiveState=active\nMainPID=7\n\nActiveState=failed\nResult=start-limit-hit\n",
	})
	states, err := Show(t.Context(), target.ReadOnly(f), "a@0.service", "a@1")
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != 2 || states[0].MainPID != 7 || states[1].ID != "a@1" || !states[1].StartLimitHit() {
		t.Errorf("Show = %+v", states)
	}

	f.On(targettest.HasPrefix("systemctl show "), targettest.Reply{Stdout: "Id=x.service\n"})
	if _, err := Show(t.Context(), f, "x.service", "y.service"); err == nil || !strings.Contains(err.Error(), "asked about 2 units, got 1") {
		t.Errorf("Show with a missing record: err = %v", err)
	}
	f.On(targettest.HasPrefix("systemctl show "), targettest.Reply{Code: 1, Stderr: "Failed to connect to bus"})
	if _, err := Show(t.Context(), f, "x.service"); err == nil || !strings.Contains(err.Error(), "Failed to connect to bus") {
		t.Errorf("Show on a failing systemctl: err = %v", err)
	}
}

// TestIsActive pins that a non-zero exit means "not active", not an error,
// and that the check is allowed on a read-only target.
func TestIsActive(t *testing.T) {
	f := targettest.NewFake("im-1")
	f.On(targettest.Equal("systemctl is-active --quiet -- up.service"), targettest.Reply{})
	f.On(targettest.Equal("systemctl is-active --quiet -- down.service"), targettest.Reply{Code: 3})
	ro := target.ReadOnly(f)
	if ok, err := IsActive(t.Context(), ro, "up.service"); !ok || err != nil {
		t.Errorf("IsActive(up) = %v, %v", ok, err)
	}
	if ok, err := IsActive(t.Context(), ro, "down.service"); ok || err != nil {
		t.Errorf("IsActive(down) = %v, %v", ok, err)
	}
	if _, err := IsActive(t.Context(), ro, "typo.service"); err == nil {
		t.Error("IsActive on a transport error should fail")
	}
}

// TestStatusAndJournal pins the failure-report helpers: status exit 3 is
// normal, the journal is read with sudo, and errors come back as text.
func TestStatusAndJournal(t *testing.T) {
	f := targettest.NewFake("im-1")
	f.On(targettest.Equal("systemctl status --no-pager -l --lines=0 -- a@0.service"),
		targettest.Reply{Stdout: "× a@0.service - A\n     Active: failed\n", Code: 3})
	f.On(targettest.Equal("journalctl -u a@0.service -n 50 --no-pager -o short-iso"),
		targettest.Reply{Stdout: "2025-01-06T12:01:03+0000 im-1 a[42]: boom\n"})
	ro := target.ReadOnly(f)
	if got := Status(t.Context(), ro, "a@0.service"); got != "× a@0.service - A\n     Active: failed" {
		t.Errorf("Status = %q", got)
	}
	if got := Journal(t.Context(), ro, "a@0.service", 0); !strings.HasSuffix(got, "boom") {
		t.Errorf("Journal = %q", got)
	}
	targettest.ReceivedSudo(t, f, `^journalctl `)

	f.On(targettest.HasPrefix("systemctl status"), targettest.Reply{Code: 4, Stderr: "Unit b.service could not be found."})
	if got := Status(t.Context(), f, "b.service"); !strings.Contains(got, "could not be found") {
		t.Errorf("Status of a missing unit = %q", got)
	}
	if got := Journal(t.Context(), f, "b.service", 10); !strings.Contains(got, "unexpected command") {
		t.Errorf("Journal with a failing command = %q", got)
	}
}

func TestFailedJobs(t *testing.T) {
	units := []string{"a@0.service", "a@1.service", "b.service"}
	err := &target.ExitError{Code: 1, Stderr: "Job for a@1.service failed because the control process exited with error code.\n" +
		"See \"systemctl status a@1.service\" for details.\nFailed to restart b.service: Unit b.service not found.\n"}
	if got := FailedJobs(err, units); !slices.Equal(got, []string{"a@1.service", "b.service"}) {
		t.Errorf("FailedJobs = %v", got)
	}
	if got := FailedJobs(errors.New("connection lost"), units); got != nil {
		t.Errorf("FailedJobs of a transport error = %v, want none", got)
	}
}
