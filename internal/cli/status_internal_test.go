package cli

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/target/local"
)

// TestReleaseShown pins how a process's resolved working directory maps to
// the release it runs, the same way the plan reads it (release.ReleaseOf).
func TestReleaseShown(t *testing.T) {
	rel := func(cwd string) string { return releaseShown("/opt/openim/", cwd) }
	require.Equal(t, "20261201T101010Z", rel("/opt/openim/releases/20261201T101010Z"))
	require.Equal(t, "?", rel("/opt/openim/current"), "current is resolved before; an unresolved path is not a release")
	require.Equal(t, "?", rel("/opt/openim/releases/"))
	require.Equal(t, "?", rel("/opt/openim2/releases/x"))
	require.Equal(t, "?", rel("/"))
}

// TestProcessFactsResolvesTheRoot runs the status script against a root
// reached through a symlink: the root comes back resolved, as the working
// directories do, so the two compare equal.
func TestProcessFactsResolvesTheRoot(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "data", "opt")
	rel := filepath.Join(real, "releases", "20261201T101010Z")
	require.NoError(t, os.MkdirAll(rel, 0o755))
	require.NoError(t, os.Symlink(filepath.Join(dir, "data", "opt"), filepath.Join(dir, "opt")))
	sleeper := exec.Command("sleep", "60")
	sleeper.Dir = filepath.Join(dir, "opt", "releases", "20261201T101010Z")
	require.NoError(t, sleeper.Start())
	t.Cleanup(func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() })

	root := filepath.Join(dir, "opt")
	_, realRoot, cwds := processFacts(t.Context(), local.New("h", ""), root, []int{sleeper.Process.Pid})
	wantRoot, err := filepath.EvalSymlinks(root)
	require.NoError(t, err)
	require.Equal(t, wantRoot, realRoot)
	require.Equal(t, "20261201T101010Z", releaseShown(realRoot, cwds[sleeper.Process.Pid]))
	require.Equal(t, "?", releaseShown(root, cwds[sleeper.Process.Pid]), "the configured path alone never matches")
}

// TestProcessFactsOfWhatIsGone runs the status script for a root that does
// not exist and a PID that is gone: the root comes back as configured and
// the process has no working directory, rather than status failing.
func TestProcessFactsOfWhatIsGone(t *testing.T) {
	const gone = 1<<31 - 1 // above any pid_max: never a process
	root := filepath.Join(t.TempDir(), "missing")
	uptime, realRoot, cwds := processFacts(t.Context(), local.New("h", ""), root, []int{gone})
	require.Positive(t, uptime)
	require.Equal(t, root, realRoot)
	require.Empty(t, cwds)
}

// TestWriteStatus pins the table: problems first whatever the input order,
// unreachable hosts as rows, and one summary line per service.
func TestWriteStatus(t *testing.T) {
	pb := &config.Playbook{
		Tasks:    []*config.Task{{Unit: config.Unit{Name: "gate"}}},
		Services: []*config.Service{{Unit: config.Unit{Name: "api"}}},
	}
	rows := []statusRow{
		{Host: "im-1", Unit: "gate.service", Service: "gate", short: "gate", Active: "active", Sub: "exited", Health: "-", Release: "-", Healthy: true},
		{Host: "im-1", Unit: "api@0.service", Service: "api", short: "api@0", Active: "active", Sub: "running", PID: 42, Restarts: 1, Health: "ok", Release: "r1", Healthy: true},
		{Host: "im-2", Unit: "api@0.service", Service: "api", short: "api@0", Active: "failed", Sub: "failed", Health: "-", Release: "-"},
		{Host: "im-3", Unreachable: true, Active: "unreachable", Health: "-", Error: "connect: timeout"},
	}
	var out bytes.Buffer
	writeStatus(&out, false, false, pb, rows)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Regexp(t, `^HOST +INSTANCE +STATE +PID +UPTIME +RESTARTS +HEALTH +RELEASE$`, lines[0])
	require.Regexp(t, `^im-2 +api@0 +failed/failed +- +- +0 +- +-$`, lines[1])
	require.Regexp(t, `^im-3 +- +unreachable +- +- +0 +connect: timeout +-$`, lines[2])
	require.Regexp(t, `^im-1 +gate +active/exited`, lines[3])
	require.Regexp(t, `^im-1 +api@0 +active/running +42 +- +1 +ok +r1$`, lines[4])
	require.Equal(t, []string{"gate  1/1 healthy", "api   1/2 healthy"}, lines[6:])

	err := statusResult(rows)
	require.ErrorIs(t, err, ErrUnhealthy)
	require.Equal(t, ExitUnhealthy, exitCode(err))
	require.Equal(t, ExitUnreachable, exitCode(statusResult([]statusRow{rows[0], rows[3]})))
	require.NoError(t, statusResult(rows[:2]))
	require.True(t, errors.Is(statusResult(rows[3:]), target.ErrUnreachable))

	out.Reset()
	writeStatus(&out, true, false, pb, rows)
	require.Equal(t, 6, strings.Count(out.String(), "\n"), "one line per row and per service")
	require.Contains(t, out.String(), `{"type":"status","host":"im-2","unit":"api@0.service",`)
	require.Contains(t, out.String(), `{"healthy":1,"service":"api","total":2,"type":"summary"}`)
}

// TestRedactVarArgs pins that -var values never reach the debug log.
func TestRedactVarArgs(t *testing.T) {
	args := []string{"apply", "-var", "pw=hunter2", "--var=token=abc", "-i", "x"}
	require.Equal(t, []string{"apply", "-var", "pw=***", "--var=token=***", "-i", "x"}, redactVarArgs(args))
	require.Equal(t, "bad *** and ***", redactVarsIn("bad hunter2 and abc", args))
}
