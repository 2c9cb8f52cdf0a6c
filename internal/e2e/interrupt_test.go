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
func (d *deploy) interruptAt(phase string, sig syscall.Signal, args ...string) (string, int) {
	d.t.Helper()
	cmd := d.command(append([]string{"apply"}, args...)...)
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
	parallelOn(t, "lab-5", "lab-6")
	l := lab.Require(t)
	d := newDeploy(t, l, "e2eintr", 21500, "lab-5", "lab-6")
	require.Equal(t, cli.ExitOK, d.run("apply").Code)
	for _, phase := range []string{"Push release", "Install units", "Start units"} {
		d.appendBin("openim-api")
		out, code := d.interruptAt(phase, syscall.SIGINT)
		require.Equal(t, cli.ExitInterrupted, code, out)
		// The lock was released: the next apply needs no --lock-wait.
		res := d.run("apply")
		require.Equal(t, cli.ExitOK, res.Code, "after SIGINT at %s", phase)
		v := d.runningRelease("lab-5", "api@0.service")["api@0.service"]
		d.requireRuns(v, v, "api@0.service")
		require.Contains(t, d.run("apply").Out, "Plan: no changes.")
	}

	// A 10 s lease (the default is 30 s) is what the next apply waits for:
	// expiry is proven as well, a third of the wait.
	d.appendBin("openim-api")
	_, _ = d.interruptAt("Start units", syscall.SIGKILL, "--lock-ttl", "10s")
	res := d.run("apply", "--lock-wait", "60s")
	require.Equal(t, cli.ExitOK, res.Code)
	require.Contains(t, res.Out, "took over an expired lock")
	v := d.runningRelease("lab-5", "api@0.service")["api@0.service"]
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
	parallelOn(t, "lab-1")
	l := lab.Require(t)
	d := newDeploy(t, l, "e2elimit", 21600, "lab-1")
	replaceInFile(t, d, `service "cron" {`, `service "cron" {
  systemd = { StartLimitBurst = "2", StartLimitIntervalSec = "120", RestartSec = "200ms" }`)
	require.Equal(t, cli.ExitOK, d.run("apply").Code)
	// Restart it by hand until systemd refuses: every start counts
	// against StartLimitBurst, as a crash loop's restarts do.
	waitFor(t, 60*time.Second, "cron@0 to hit its start limit", func() bool {
		_, _ = l.Exec(t, "lab-1", "systemctl", "restart", "cron@0.service")
		out, _ := l.Exec(t, "lab-1", "systemctl", "show", "-p", "Result", "--value", "cron@0.service")
		return strings.TrimSpace(out) == "start-limit-hit"
	})
	res := d.run("plan")
	require.Contains(t, res.Out, "start cron@0.service (failed: start limit hit")
	require.Equal(t, cli.ExitOK, d.run("apply").Code)
	require.Equal(t, "active", d.show("lab-1", "cron@0.service")[0]["ActiveState"])
}

// TestFaultDiskFull: an upgrade to a host whose app root (a small tmpfs)
// has run out of space is refused by pre-flight without touching what
// runs: the running binary, the unit files, the drop-ins and current are
// byte-identical to before. Once there is room, the next apply converges
// and no partial release or temp file survives it. (An upload cut off
// mid-file is covered in-process by internal/target/remote's fault tests
// and the release protocol's partial directories.)
func TestFaultDiskFull(t *testing.T) {
	l := lab.Require(t)
	// Room for pre-flight's estimate of a release (two of each binary and
	// a margin), then a filler that leaves too little. Mounted before the
	// deploy so its clean-up (stopping the units) runs before the umount.
	_, err := l.Exec(t, "lab-1", "sh", "-c", "mkdir -p /opt/e2efull && mount -t tmpfs -o size=160m tmpfs /opt/e2efull")
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = l.Exec(t, "lab-1", "sh", "-c", "umount /opt/e2efull; rm -rf /opt/e2efull; true") })
	d := newDeploy(t, l, "e2efull", 21700, "lab-1")
	require.Equal(t, cli.ExitOK, d.run("apply").Code)

	fingerprint := func() string {
		out, err := l.Exec(t, "lab-1", "sh", "-c", `pid=$(systemctl show -p MainPID --value api@0.service)
sha256sum "/proc/$pid/exe" | cut -d' ' -f1
readlink /opt/e2efull/current
cd /etc/systemd/system && sha256sum api@.service api@0.service.d/release.conf backend@.service e2efull.target`)
		require.NoError(t, err, out)
		return out
	}
	before := fingerprint()
	_, err = l.Exec(t, "lab-1", "sh", "-c", "avail=$(df -k --output=avail /opt/e2efull | tail -1); head -c $(( (avail - 4096) * 1024 )) /dev/zero > /opt/e2efull/filler")
	require.NoError(t, err)
	d.appendBin("openim-api")
	res := d.run("apply")
	require.Equal(t, cli.ExitPreflight, res.Code, "pre-flight sees the full disk before anything is sent")
	require.Contains(t, res.Out, "[lab-1] error: refused: disk: ")
	require.Equal(t, before, fingerprint(), "what runs is untouched")

	_, err = l.Exec(t, "lab-1", "rm", "-f", "/opt/e2efull/filler")
	require.NoError(t, err)
	require.Equal(t, cli.ExitOK, d.run("apply").Code)
	out, err := l.Exec(t, "lab-1", "sh", "-c", "ls -a /opt/e2efull/releases; find /opt/e2efull -name '*.tmp*'")
	require.NoError(t, err)
	require.NotContains(t, out, ".partial")
	require.NotContains(t, out, ".tmp")
	require.Contains(t, d.run("apply").Out, "Plan: no changes.")
}
