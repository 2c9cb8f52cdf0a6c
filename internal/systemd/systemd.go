// Package systemd drives systemd on a host through target.Target: plain
// functions (Enable, Restart, Show, ...) in the style of rig's initsystem,
// built from argument vectors, never from shell strings. Every command is
// "systemctl ... -- <units>": the "--" keeps a unit name from ever being
// read as an option, even though config validation already restricts names
// to a safe character set.
//
// Commands that change the host set Sudo; commands that only observe set
// ReadOnly, so they stay allowed through target.ReadOnly during gather and
// plan. Parsing is pure (ParseShow) and tested without a host.
package systemd

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/openimsdk/openim-deploy/internal/target"
)

// mutate builds a state-changing systemctl command: it needs root, so it
// goes through sudo when the login user is not root.
func mutate(args ...string) target.Cmd {
	return target.Cmd{Args: append([]string{"systemctl"}, args...), Sudo: true}
}

// observe builds a command that only reads state.
func observe(args ...string) target.Cmd {
	return target.Cmd{Args: args, ReadOnly: true}
}

func run(ctx context.Context, t target.Target, cmd target.Cmd) error {
	_, err := t.Run(ctx, cmd)
	return err
}

// withUnits returns "verb -- units..." so no unit can be parsed as a flag.
func withUnits(verb string, units []string) []string {
	return append([]string{verb, "--"}, units...)
}

// DaemonReload runs "systemctl daemon-reload". Run it after changing unit
// files and before enabling or starting them; confirm with Show that
// NeedDaemonReload is false afterwards.
func DaemonReload(ctx context.Context, t target.Target) error {
	return run(ctx, t, mutate("daemon-reload"))
}

// Enable runs "systemctl enable -- units..." in one call. Enabling is
// idempotent: units already enabled are left alone by systemd.
func Enable(ctx context.Context, t target.Target, units ...string) error {
	if len(units) == 0 {
		return nil
	}
	return run(ctx, t, mutate(withUnits("enable", units)...))
}

// Disable runs "systemctl disable -- units..." in one call.
func Disable(ctx context.Context, t target.Target, units ...string) error {
	if len(units) == 0 {
		return nil
	}
	return run(ctx, t, mutate(withUnits("disable", units)...))
}

// Start runs "systemctl start -- unit". It waits for the start job, which
// for Type=oneshot means until the task has finished, so bound ctx with the
// task's timeout. For Type=simple it returns 0 even if the process exits a
// moment later (systemd/systemd#2309): follow it with health.Wait.
func Start(ctx context.Context, t target.Target, unit string) error {
	return run(ctx, t, mutate(withUnits("start", []string{unit})...))
}

// Stop runs "systemctl stop -- unit". It waits until the unit has stopped,
// which includes its drain time (TimeoutStopSec).
func Stop(ctx context.Context, t target.Target, unit string) error {
	return run(ctx, t, mutate(withUnits("stop", []string{unit})...))
}

// Restart runs "systemctl restart -- unit"; see Start about what its
// success does not mean.
func Restart(ctx context.Context, t target.Target, unit string) error {
	return run(ctx, t, mutate(withUnits("restart", []string{unit})...))
}

// ResetAndRestart clears the units' failed state (a unit that tripped
// StartLimitBurst refuses to start until then) and restarts them, in one
// round trip and one systemctl call, so systemd runs their jobs side by
// side: "systemctl reset-failed -- units...; systemctl restart --
// units...", the constant scripts/reset_restart.sh with the units as its
// arguments. Its exit status is the restart's; systemd names each unit
// whose job failed on stderr (see FailedJobs).
func ResetAndRestart(ctx context.Context, t target.Target, units ...string) error {
	if len(units) == 0 {
		return nil
	}
	return run(ctx, t, target.Cmd{Args: append([]string{"sh", "-c", resetAndRestartScript, "sh"}, units...), Sudo: true})
}

//go:embed scripts/reset_restart.sh
var resetRestartFile string

// resetAndRestartScript is scripts/reset_restart.sh without its final
// newline: the quoted command line keeps the exec and the units on one
// line ("exec systemctl restart -- "$@"' sh UNIT..."), as it was when the
// script was a Go constant and as tests that match it expect.
var resetAndRestartScript = strings.TrimSuffix(resetRestartFile, "\n")

// FailedJobs returns the units of units that err, from a systemctl call
// on all of them, names as failed ("Job for x.service failed ...",
// "Failed to restart x.service: ..."). None named means the call failed as
// a whole (a transport error, or a message this does not know).
func FailedJobs(err error, units []string) []string {
	var ee *target.ExitError
	if !errors.As(err, &ee) {
		return nil
	}
	var failed []string
	for _, u := range units {
		if strings.Contains(ee.Stderr, "Job for "+u+" failed") || strings.Contains(ee.Stderr, " "+u+": ") {
			failed = append(failed, u)
		}
	}
	return failed
}

// ResetFailed runs "systemctl reset-failed -- units...". Call it before
// retrying a unit that hit its start limit (Result=start-limit-hit):
// otherwise systemd refuses to start it again until the interval passes.
func ResetFailed(ctx context.Context, t target.Target, units ...string) error {
	if len(units) == 0 {
		return nil
	}
	return run(ctx, t, mutate(withUnits("reset-failed", units)...))
}

// IsActive reports whether unit is active, using
// "systemctl is-active --quiet -- unit". Any non-zero exit status (3 for
// inactive or failed, 4 for an unknown unit) means false; only a failure
// to run the command at all is an error.
func IsActive(ctx context.Context, t target.Target, unit string) (bool, error) {
	err := run(ctx, t, observe("systemctl", "is-active", "--quiet", "--", unit))
	if err == nil {
		return true, nil
	}
	var ee *target.ExitError
	if errors.As(err, &ee) {
		return false, nil
	}
	return false, err
}

// statusNotActive is "systemctl status"'s exit status for a unit that is
// not active (LSB: program is not running).
const statusNotActive = 3

// Status returns the output of
// "systemctl status --no-pager -l --lines=0 -- unit", for failure reports.
// Exit status 3 (unit not active) is the normal case when something failed
// and is not an error. Status never fails: a problem running the command is
// returned as text, because it is only ever printed next to another error.
func Status(ctx context.Context, t target.Target, unit string) string {
	res, err := t.Run(ctx, observe("systemctl", "status", "--no-pager", "-l", "--lines=0", "--", unit))
	out := strings.TrimRight(string(res.Stdout), "\n")
	var ee *target.ExitError
	if err == nil || (errors.As(err, &ee) && ee.Code == statusNotActive) {
		return out
	}
	return joinNonEmpty(out, fmt.Sprintf("(systemctl status %s: %v)", unit, err))
}

// Journal returns the last lines of unit's journal
// ("journalctl -u unit -n lines --no-pager -o short-iso"). It uses sudo:
// an unprivileged login user outside the systemd-journal group sees no
// system journal at all, and the lines are what an operator needs to see
// why a unit failed. Like Status it never fails; errors come back as text.
func Journal(ctx context.Context, t target.Target, unit string, lines int) string {
	if lines <= 0 {
		lines = 50
	}
	cmd := observe("journalctl", "-u", unit, "-n", strconv.Itoa(lines), "--no-pager", "-o", "short-iso")
	cmd.Sudo = true
	res, err := t.Run(ctx, cmd)
	out := strings.TrimRight(string(res.Stdout), "\n")
	if err == nil {
		return out
	}
	return joinNonEmpty(out, fmt.Sprintf("(journalctl -u %s: %v)", unit, err))
}

func joinNonEmpty(a, b string) string {
	if a == "" {
		return b
	}
	return a + "\n" + b
}
