package e2e

import (
	"bufio"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/cli"
	"github.com/openimsdk/openim-deploy/internal/lab"
)

// runningRelease returns, read on the host, the release each unit's main
// process runs: the last element of its working directory.
func (d *deploy) runningRelease(host string, units ...string) map[string]string {
	d.t.Helper()
	requireLeased(d.t, host)
	script := `root=$1; shift
for u in "$@"; do
	pid=$(systemctl show -p MainPID --value "$u")
	cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null || echo none)
	printf '%s %s\n' "$u" "${cwd#"$root"/releases/}"
done`
	out, err := d.lab.Exec(d.t, host, append([]string{"sh", "-c", script, "sh", "/opt/" + d.app}, units...)...)
	require.NoError(d.t, err, out)
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		u, rel, _ := strings.Cut(line, " ")
		m[u] = rel
	}
	return m
}

// services are the app's long-running instances (the gate task has no process).
func (d *deploy) services() []string {
	return []string{"backend@0.service", "backend@1.service", "api@0.service", "cron@0.service"}
}

// requireOneRelease asserts every instance on every host runs one release,
// not current's name: the pin is a real directory. It returns the id.
func (d *deploy) requireOneRelease() string {
	d.t.Helper()
	var id string
	for _, h := range d.hosts {
		for u, rel := range d.runningRelease(h, d.services()...) {
			require.NotContains(d.t, rel, "/", "%s on %s runs from %s", u, h, rel)
			require.NotEqual(d.t, "none", rel, "%s on %s", u, h)
			if id == "" {
				id = rel
			}
			require.Equal(d.t, id, rel, "%s on %s", u, h)
		}
	}
	return id
}

// requireRuns asserts that every host runs release id for units, read per
// instance on the host, and that their drop-ins pin pinned.
func (d *deploy) requireRuns(id, pinned string, units ...string) {
	d.t.Helper()
	for _, h := range d.hosts {
		for u, rel := range d.runningRelease(h, units...) {
			require.Equal(d.t, id, rel, "%s on %s", u, h)
		}
		for _, u := range units {
			out, err := d.lab.Exec(d.t, h, "cat", "/etc/systemd/system/"+u+".d/release.conf")
			require.NoError(d.t, err, out)
			require.Contains(d.t, out, "WorkingDirectory=/opt/"+d.app+"/releases/"+pinned+"\n", "%s on %s", u, h)
		}
	}
}

// TestReleaseFailedGateThenRerunConverges is the two-wave scenario: an
// upgrade whose first wave fails its gate leaves the later wave on the old
// release; once the probe is fixed, the next plan sees that (the files on
// disk already match) and the re-run moves every instance.
func TestReleaseFailedGateThenRerunConverges(t *testing.T) {
	parallelOn(t, "lab-5", "lab-6")
	l := lab.Require(t)
	d := newDeploy(t, l, "e2erel", 20300, "lab-5", "lab-6")
	require.Equal(t, cli.ExitOK, d.run("apply").Code)
	v1 := d.requireOneRelease()

	d.appendBin("openim-rpc-user")
	d.appendBin("openim-api")
	// A probe of a port nothing listens on: the gate fails. Three probes
	// prove that as well as thirty, and the rollback's gate (the same
	// probe) fails as fast.
	replaceInFile(t, d, `tcp    = "127.0.0.1:${20300 + instance.index}"`, `tcp    = "127.0.0.1:${20390 + instance.index}"
    retries = 3
    timeout = "6s"`)
	res := d.run("apply")
	require.Equal(t, cli.ExitError, res.Code)
	for _, h := range d.hosts {
		require.Equal(t, v1, d.runningRelease(h, "api@0.service")["api@0.service"], "api was never restarted on %s", h)
	}

	replaceInFile(t, d, `tcp    = "127.0.0.1:${20390 + instance.index}"
    retries = 3`, `tcp    = "127.0.0.1:${20300 + instance.index}"`)
	res = d.run("plan", "--no-fold")
	// api never moved; the plan sees it although the files on disk match.
	require.Contains(t, res.Out, "[lab-5] + restart api@0.service (runs release "+v1+", wants ")
	require.Contains(t, res.Out, "[lab-6] + restart api@0.service (runs release "+v1+", wants ")
	require.Equal(t, cli.ExitOK, d.run("apply").Code)
	v2 := d.runningRelease("lab-5", "api@0.service")["api@0.service"]
	require.NotEqual(t, v1, v2)
	// Every instance whose binary changed serves v2; cron, whose inputs
	// are the same in both releases, kept running and is pinned to v2.
	d.requireRuns(v2, v2, "backend@0.service", "backend@1.service", "api@0.service")
	d.requireRuns(v1, v2, "cron@0.service")
	for _, h := range d.hosts {
		cur, err := l.Exec(t, h, "readlink", "/opt/e2erel/current")
		require.NoError(t, err)
		require.Equal(t, "releases/"+v2, strings.TrimSpace(cur))
	}
	require.Contains(t, d.run("apply").Out, "Plan: no changes.")
}

// TestReleaseKilledAfterPushConverges: an apply killed with SIGKILL right
// after it pushed the new release restarted nothing; the re-run's plan
// names every instance that must move, and afterwards all run the new
// release, read per instance on the host.
func TestReleaseKilledAfterPushConverges(t *testing.T) {
	parallelOn(t, "lab-5", "lab-6")
	l := lab.Require(t)
	d := newDeploy(t, l, "e2ekill", 20400, "lab-5", "lab-6")
	require.Equal(t, cli.ExitOK, d.run("apply").Code)
	v1 := d.requireOneRelease()

	d.appendBin("openim-api")
	cmd := d.command("apply")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	sc := bufio.NewScanner(stdout)
	killed := false
	for sc.Scan() {
		t.Log(sc.Text())
		if strings.HasPrefix(sc.Text(), "==> Install units") {
			require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
			killed = true
			break
		}
	}
	_ = cmd.Wait()
	require.True(t, killed, "the apply reached Install units")
	for _, h := range d.hosts {
		require.Equal(t, v1, d.runningRelease(h, "api@0.service")["api@0.service"])
	}

	require.Equal(t, cli.ExitOK, d.run("unlock").Code)
	res := d.run("plan", "--no-fold")
	require.Contains(t, res.Out, "[lab-5] + restart api@0.service (runs release "+v1)
	require.Contains(t, res.Out, "[lab-6] + restart api@0.service (runs release "+v1)
	require.Contains(t, res.Out, "already on the host", "the pushed release is reused, not sent again")
	require.Equal(t, cli.ExitOK, d.run("apply").Code)
	v2 := d.runningRelease("lab-5", "api@0.service")["api@0.service"]
	require.NotEqual(t, v1, v2)
	d.requireRuns(v2, v2, "api@0.service")
	d.requireRuns(v1, v2, "backend@0.service", "backend@1.service", "cron@0.service")
}

// TestReleasePinSurvivesCrash: an instance not yet moved to the new
// release that crashes comes back on the release it ran, even when current
// already names the new one.
func TestReleasePinSurvivesCrash(t *testing.T) {
	parallelOn(t, "lab-4")
	l := lab.Require(t)
	d := newDeploy(t, l, "e2epin", 20500, "lab-4")
	require.Equal(t, cli.ExitOK, d.run("apply").Code)
	v1 := d.requireOneRelease()

	// An upgrade whose backend gate fails leaves api unmoved.
	d.appendBin("openim-rpc-user")
	d.appendBin("openim-api")
	replaceInFile(t, d, `tcp    = "127.0.0.1:${20500 + instance.index}"`, `tcp    = "127.0.0.1:${20590 + instance.index}"
    retries = 3
    timeout = "6s"`)
	require.Equal(t, cli.ExitError, d.run("apply").Code)
	out, err := l.Exec(t, "lab-4", "sh", "-c", `cd /opt/e2epin/releases && ls -1 | grep -v "^$1$" | tail -1`, "sh", v1)
	require.NoError(t, err, out)
	v2 := strings.TrimSpace(out)
	require.NotEmpty(t, v2)
	// Even with current pointing at the new release, the crash of an
	// instance that was not moved brings it back on its own.
	_, err = l.Exec(t, "lab-4", "ln", "-sfn", "releases/"+v2, "/opt/e2epin/current")
	require.NoError(t, err)
	st := d.show("lab-4", "api@0.service")[0]
	_, err = l.Exec(t, "lab-4", "kill", "-9", st["MainPID"])
	require.NoError(t, err)
	waitFor(t, 30*time.Second, "api@0 to come back", func() bool {
		now := d.show("lab-4", "api@0.service")[0]
		return now["ActiveState"] == "active" && now["MainPID"] != st["MainPID"] && now["MainPID"] != "0"
	})
	require.Equal(t, v1, d.runningRelease("lab-4", "api@0.service")["api@0.service"])
}

// TestReleaseOnlyPlannedRestarts: an apply that changes only a dependency
// restarts exactly the instances its printed plan names (with Requires=
// systemd would also restart every dependent, unplanned and ungated).
func TestReleaseOnlyPlannedRestarts(t *testing.T) {
	parallelOn(t, "lab-5", "lab-6")
	l := lab.Require(t)
	d := newDeploy(t, l, "e2eplanned", 20600, "lab-5", "lab-6")
	require.Equal(t, cli.ExitOK, d.run("apply").Code)
	d.appendBin("openim-rpc-user")
	before := d.starts()
	res := d.run("apply", "--no-fold")
	require.Equal(t, cli.ExitOK, res.Code)
	var named []string
	for _, k := range changedStarts(before, d.starts()) {
		host, unit, _ := strings.Cut(k, "/")
		named = append(named, k)
		require.Contains(t, res.Out, fmt.Sprintf("[%s] + restart %s (", host, unit), "%s restarted without the plan naming it", k)
	}
	require.ElementsMatch(t, []string{"lab-5/backend@0.service", "lab-5/backend@1.service", "lab-6/backend@0.service", "lab-6/backend@1.service"}, named)
}

// TestReleaseOrphansAndPartials: lowering instances and removing a service
// stops, disables and deletes their units; a unit the tool did not install
// is untouched; partial releases do not survive a run; two applies land in
// two releases.
func TestReleaseOrphansAndPartials(t *testing.T) {
	parallelOn(t, "lab-5", "lab-6")
	l := lab.Require(t)
	d := newDeploy(t, l, "e2eorphan", 20700, "lab-5", "lab-6")
	require.Equal(t, cli.ExitOK, d.run("apply").Code)
	v1 := d.requireOneRelease()
	foreign := "[Unit]\nPartOf=e2eorphan.target\n[Service]\nExecStart=/bin/sleep 1000\n"
	for _, h := range d.hosts {
		_, err := l.Exec(t, h, "sh", "-c", `printf '%s' "$1" > /etc/systemd/system/e2e-foreign.service && mkdir -p /opt/e2eorphan/releases/.stale.partial/env && systemctl daemon-reload`, "sh", foreign)
		require.NoError(t, err)
	}
	t.Cleanup(func() {
		for _, h := range d.hosts {
			_, _ = l.Exec(t, h, "rm", "-f", "/etc/systemd/system/e2e-foreign.service")
		}
	})

	replaceInFile(t, d, "instances  = 2", "instances  = 1")
	replaceInFile(t, d, `service "cron" {`, `service "cron-removed" {`)
	replaceInFile(t, d, `service "cron-removed" {`, "/*")
	replaceInFile(t, d, `health { stable = "2s" }
}`, `health { stable = "2s" }
*/`)
	res := d.run("plan")
	require.Contains(t, res.Out, "stop, disable and remove backend@1.service (no longer placed on this host)")
	require.Contains(t, res.Out, "stop, disable and remove cron@0.service")
	require.Contains(t, res.Out, "remove cron@.service")
	require.Equal(t, cli.ExitOK, d.run("apply").Code)
	for _, h := range d.hosts {
		for _, st := range d.show(h, "backend@1.service", "cron@0.service") {
			require.Equal(t, "inactive", st["ActiveState"], "%s on %s", st["Id"], h)
		}
		out, err := l.Exec(t, h, "sh", "-c", `ls -d /etc/systemd/system/cron@.service /etc/systemd/system/backend@1.service.d /etc/systemd/system/e2eorphan.target.wants/cron@0.service /etc/systemd/system/e2eorphan.target.wants/backend@1.service /opt/e2eorphan/releases/.*.partial 2>/dev/null; test -f /etc/systemd/system/e2e-foreign.service && echo foreign-kept; ls /opt/e2eorphan/releases`)
		require.NoError(t, err, out)
		lines := strings.Fields(out)
		require.Contains(t, lines, "foreign-kept")
		require.Len(t, lines, 3, "only foreign-kept and two releases remain: %s", out)
		require.Contains(t, lines, v1)
	}
	require.Contains(t, d.run("apply").Out, "Plan: no changes.")
}

// TestReleaseWaveStopsAtFirstHost: when the first host of a wave fails and
// --parallel is 1, no other host is restarted, and they are named.
func TestReleaseWaveStopsAtFirstHost(t *testing.T) {
	parallelOn(t, "lab-1", "lab-2", "lab-3")
	l := lab.Require(t)
	d := newDeploy(t, l, "e2estop", 20800, "lab-1", "lab-2", "lab-3")
	require.Equal(t, cli.ExitOK, d.run("apply").Code)
	// A drop-in the tool did not write makes api crash on lab-1 only, once
	// restarted.
	_, err := l.Exec(t, "lab-1", "sh", "-c", `mkdir -p /etc/systemd/system/api@0.service.d && printf '[Service]\nEnvironment=STANDIN_CRASH_AFTER=1s\n' > /etc/systemd/system/api@0.service.d/zz-crash.conf`)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = l.Exec(t, "lab-1", "rm", "-rf", "/etc/systemd/system/api@0.service.d/zz-crash.conf") })
	d.appendBin("openim-api")
	before := d.starts("api@0.service")
	res := d.run("apply", "--parallel", "1")
	require.Equal(t, cli.ExitError, res.Code)
	require.Contains(t, res.Out, "not reached after the failure (left as they were): lab-2/api@0.service, lab-3/api@0.service")
	after := d.starts("api@0.service")
	require.Equal(t, before["lab-2/api@0.service"], after["lab-2/api@0.service"])
	require.Equal(t, before["lab-3/api@0.service"], after["lab-3/api@0.service"])
	out, err := l.Exec(t, "lab-1", "test", "-f", "/etc/systemd/system/api@0.service.d/zz-crash.conf")
	require.NoError(t, err, "a drop-in the tool did not install is left alone: %s", out)
}
