package e2e

import (
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/cli"
	"github.com/openimsdk/openim-deploy/internal/lab"
)

// TestApplyLifecycle pins the main job on real systemd: a cold apply
// converges every host in dependency order, a second apply changes nothing,
// and each kind of change restarts exactly what it should. The steps share
// one deployment and run in order.
func TestApplyLifecycle(t *testing.T) {
	parallelOn(t, "lab-1", "lab-2")
	l := lab.Require(t)
	d := newDeploy(t, l, "e2elife", 20100, "lab-1", "lab-2")

	// Cold apply: everything active, template units, target active.
	res := d.run("apply")
	require.Equal(t, cli.ExitOK, res.Code)
	for _, h := range d.hosts {
		for _, st := range d.show(h, d.units()...) {
			require.Equal(t, "active", st["ActiveState"], "%s on %s", st["Id"], h)
			require.Equal(t, "enabled", st["UnitFileState"], "%s on %s", st["Id"], h)
		}
		out, err := l.Exec(t, h, "ls", "/etc/systemd/system/backend@.service", "/etc/systemd/system/api@.service")
		require.NoError(t, err, out)
		require.Equal(t, "active", d.show(h, "e2elife.target")[0]["ActiveState"])
	}

	// Dependency order across the fleet: the api started on no host before
	// every backend instance on every host had been up for its stable window.
	// The lab's hosts share one kernel, so their monotonic clocks compare.
	var lastBackend, firstAPI int64
	for _, h := range d.hosts {
		for _, st := range d.show(h, "backend@0.service", "backend@1.service", "api@0.service") {
			v, err := strconv.ParseInt(st["ExecMainStartTimestampMonotonic"], 10, 64)
			require.NoError(t, err)
			if strings.HasPrefix(st["Id"], "backend") {
				lastBackend = max(lastBackend, v)
			} else if firstAPI == 0 || v < firstAPI {
				firstAPI = v
			}
		}
	}
	require.GreaterOrEqual(t, firstAPI-lastBackend, int64(2*time.Second/time.Microsecond),
		"api started %dµs after the last backend, before its 2s stable window ended", firstAPI-lastBackend)

	// Converged: nothing to do, nothing sent, nothing restarted.
	before := d.starts()
	res = d.run("apply")
	require.Equal(t, cli.ExitOK, res.Code)
	require.Contains(t, res.Out, "Plan: no changes.")
	require.NotContains(t, res.Out, "files sent")
	require.Equal(t, before, d.starts())
	require.Equal(t, cli.ExitOK, d.run("plan", "--detailed-exitcode").Code)

	// systemd keeps the app alive: kill -9 of a process brings it back.
	st := d.show("lab-1", "backend@0.service")[0]
	out, err := l.Exec(t, "lab-1", "kill", "-9", st["MainPID"])
	require.NoError(t, err, out)
	waitFor(t, 30*time.Second, "backend@0 to be restarted by systemd", func() bool {
		now := d.show("lab-1", "backend@0.service")[0]
		return now["ActiveState"] == "active" && now["MainPID"] != st["MainPID"] && now["MainPID"] != "0" &&
			now["NRestarts"] != st["NRestarts"]
	})

	// A changed binary restarts only that service's instances.
	d.appendBin("openim-api")
	require.Equal(t, cli.ExitChanges, d.run("plan", "--detailed-exitcode").Code)
	before = d.starts()
	res = d.run("apply")
	require.Equal(t, cli.ExitOK, res.Code)
	require.Equal(t, []string{"lab-1/api@0.service", "lab-2/api@0.service"}, changedStarts(before, d.starts()))

	// A changed config file restarts the services that read it (cron has
	// files = [] and keeps running).
	d.writeConfig(`, "comment": {}`)
	before = d.starts()
	require.Equal(t, cli.ExitOK, d.run("apply").Code)
	require.Equal(t, []string{
		"lab-1/api@0.service", "lab-1/backend@0.service", "lab-1/backend@1.service",
		"lab-2/api@0.service", "lab-2/backend@0.service", "lab-2/backend@1.service",
	}, changedStarts(before, d.starts()))

	// A changed unit is written, reloaded and its instances restarted.
	d.playbook = `# unit change
`
	d.writePlaybook()
	replaceInFile(t, d, `service "cron" {`, "service \"cron\" {\n  environment = { CRON_MODE = \"e2e\" }")
	before = d.starts()
	res = d.run("apply")
	require.Equal(t, cli.ExitOK, res.Code)
	require.Contains(t, res.Out, "update cron@.service")
	require.Equal(t, []string{"lab-1/cron@0.service", "lab-2/cron@0.service"}, changedStarts(before, d.starts()))
	for _, h := range d.hosts {
		require.Equal(t, "no", d.show(h, "cron@0.service")[0]["NeedDaemonReload"])
		env, err := l.Exec(t, h, "systemctl", "show", "-p", "Environment", "cron@0.service")
		require.NoError(t, err)
		require.Contains(t, env, "CRON_MODE=e2e")
	}

	// The target acts on the whole app.
	_, err = l.Exec(t, "lab-1", "systemctl", "stop", "e2elife.target")
	require.NoError(t, err)
	for _, st := range d.show("lab-1", "backend@0.service", "backend@1.service", "api@0.service", "cron@0.service") {
		require.NotEqual(t, "active", st["ActiveState"], st["Id"])
	}
	_, err = l.Exec(t, "lab-1", "systemctl", "start", "e2elife.target")
	require.NoError(t, err)
	for _, st := range d.show("lab-1", d.units()...) {
		require.Equal(t, "active", st["ActiveState"], st["Id"])
	}
}

// TestApplyFailedGate pins that a service whose new binary exits after two
// seconds fails its health gate (no false pass), that its journal comes back
// with the failure, that its dependents are not started, and that the exit
// code says so.
func TestApplyFailedGate(t *testing.T) {
	parallelOn(t, "lab-4")
	l := lab.Require(t)
	d := newDeploy(t, l, "e2egate", 20200, "lab-4")
	require.Equal(t, cli.ExitOK, d.run("apply").Code)
	v1 := d.runningRelease("lab-4", "api@0.service")["api@0.service"]

	d.writeBin("openim-api", "#!/bin/sh\necho \"api starting $*\"\nsleep 2\necho 'fatal: e2e crash' >&2\nexit 1\n")
	d.playbook = `
service "edge" {
  binary     = "${var.bin_dir}/openim-push"
  args       = ["-i", "%i", "-c", "config"]
  hosts      = ["app"]
  depends_on = ["api"]
  health { stable = "1s" }
}
`
	d.writePlaybook()
	res := d.run("apply")
	require.Equal(t, cli.ExitError, res.Code)
	require.Contains(t, res.Out, "api@0.service")
	require.Contains(t, res.Out, "health gate failed")
	require.Contains(t, res.Out, "journalctl -u api@0.service")
	require.Contains(t, res.Out, "fatal: e2e crash")
	require.Contains(t, res.Out, "failed")
	st := d.show("lab-4", "edge@0.service")[0]
	require.NotEqual(t, "active", st["ActiveState"], "a dependent of a failed gate was started")
	require.Equal(t, "0", st["MainPID"])
	// auto_rollback (the default) put the instance back on the release it
	// ran, through the same gate, and said so.
	require.Contains(t, res.Out, "auto-rollback of 1 instance(s): lab-4/api@0.service")
	require.Contains(t, res.Out, "api@0.service runs release "+v1+" after the rollback")
	require.Equal(t, "active", d.show("lab-4", "api@0.service")[0]["ActiveState"])
	require.Equal(t, v1, d.runningRelease("lab-4", "api@0.service")["api@0.service"])
}

func changedStarts(before, after map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(after)) {
		if before[k] != after[k] {
			out = append(out, k)
		}
	}
	return out
}

// waitFor polls cond every 250 ms until it holds or limit passes. It waits
// on the real system, so it is a bound, not a timing assertion.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func replaceInFile(t *testing.T, d *deploy, old, repl string) {
	t.Helper()
	p := d.dir + "/playbook.hcl"
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Contains(t, string(b), old)
	require.NoError(t, os.WriteFile(p, []byte(strings.Replace(string(b), old, repl, 1)), 0o644))
}
