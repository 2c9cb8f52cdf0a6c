package e2e

import (
	"bufio"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/cli"
	"github.com/openimsdk/openim-deploy/internal/lab"
)

// interruptAt runs apply as its own process and sends sig once the line
// "==> <phase>" appears; it returns the process's output and exit code.
func (d *deploy) interruptAt(phase string, sig syscall.Signal) (string, int) {
	d.t.Helper()
	cmd := d.command("apply")
	stdout, err := cmd.StdoutPipe()
	require.NoError(d.t, err)
	cmd.Stderr = cmd.Stdout
	require.NoError(d.t, cmd.Start())
	var out strings.Builder
	sc := bufio.NewScanner(stdout)
	sent := false
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if !sent && strings.HasPrefix(sc.Text(), "==> "+phase) {
			require.NoError(d.t, cmd.Process.Signal(sig))
			sent = true
		}
	}
	_ = cmd.Wait()
	d.t.Logf("apply interrupted by %v at %s -> %d\n%s", sig, phase, cmd.ProcessState.ExitCode(), out.String())
	require.True(d.t, sent, "apply reached %s", phase)
	return out.String(), cmd.ProcessState.ExitCode()
}

// TestFaultInterruptedAtEachPhase: an upgrade interrupted with SIGINT at
// the release push, the unit install or the restarts leaves the lock
// released and a fleet the next apply converges; killed with SIGKILL, the
// lease expires and the next apply (waiting for it) converges too.
func TestFaultInterruptedAtEachPhase(t *testing.T) {
	l := lab.Require(t)
	d := newDeploy(t, l, "e2eintr", 21500, "lab-1", "lab-2")
	require.Equal(t, cli.ExitOK, d.run("apply").Code)
	for _, phase := range []string{"Push release", "Install units", "Start units"} {
		d.appendBin("openim-api")
		out, code := d.interruptAt(phase, syscall.SIGINT)
		require.Equal(t, cli.ExitInterrupted, code, out)
		// The lock was released: the next apply needs no --lock-wait.
		res := d.run("apply")
		require.Equal(t, cli.ExitOK, res.Code, "after SIGINT at %s", phase)
		v := d.runningRelease("lab-1", "api@0.service")["api@0.service"]
		d.requireRuns(v, v, "api@0.service")
		require.Contains(t, d.run("apply").Out, "Plan: no changes.")
	}

	d.appendBin("openim-api")
	_, _ = d.interruptAt("Start units", syscall.SIGKILL)
	res := d.run("apply", "--lock-wait", "60s")
	require.Equal(t, cli.ExitOK, res.Code)
	require.Contains(t, res.Out, "took over an expired lock")
	v := d.runningRelease("lab-1", "api@0.service")["api@0.service"]
	d.requireRuns(v, v, "api@0.service")
	for _, h := range d.hosts {
		out, err := l.Exec(t, h, "sh", "-c", "ls -d /opt/e2eintr/releases/.*.partial 2>/dev/null | wc -l")
		require.NoError(t, err)
		require.Equal(t, "0", strings.TrimSpace(out), "no partial release survives a successful run on %s", h)
	}
}

// TestFaultStartLimitHit: a unit that tripped StartLimitBurst is reported
// as such by the plan, and the next apply resets it and brings it back.
func TestFaultStartLimitHit(t *testing.T) {
	l := lab.Require(t)
	d := newDeploy(t, l, "e2elimit", 21600, "lab-1")
	replaceInFile(t, d, `service "cron" {`, `service "cron" {
  systemd = { StartLimitBurst = "2", StartLimitIntervalSec = "120", RestartSec = "200ms" }`)
	require.Equal(t, cli.ExitOK, d.run("apply").Code)
	// Kill it until systemd gives up restarting it.
	waitFor(t, 60*time.Second, "cron@0 to hit its start limit", func() bool {
		st := d.show("lab-1", "cron@0.service")[0]
		if st["ActiveState"] == "active" && st["MainPID"] != "0" {
			_, _ = l.Exec(t, "lab-1", "kill", "-9", st["MainPID"])
		}
		out, _ := l.Exec(t, "lab-1", "systemctl", "show", "-p", "Result", "--value", "cron@0.service")
		return strings.TrimSpace(out) == "start-limit-hit"
	})
	res := d.run("plan")
	require.Contains(t, res.Out, "start cron@0.service (failed: start limit hit")
	require.Equal(t, cli.ExitOK, d.run("apply").Code)
	require.Equal(t, "active", d.show("lab-1", "cron@0.service")[0]["ActiveState"])
}
