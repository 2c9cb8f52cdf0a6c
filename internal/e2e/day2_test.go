package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/cli"
	"github.com/openimsdk/openim-deploy/internal/lab"
)

// statusJSON runs status --output json and returns its rows by "host/unit".
func statusJSON(t *testing.T, d *deploy, args ...string) (map[string]map[string]any, int) {
	t.Helper()
	res := d.run(append([]string{"status", "--output", "json"}, args...)...)
	rows := map[string]map[string]any{}
	for _, line := range strings.Split(res.Out, "\n") {
		var row map[string]any
		if json.Unmarshal([]byte(line), &row) != nil || row["type"] != "status" {
			continue
		}
		rows[fmt.Sprint(row["host"], "/", row["unit"])] = row
	}
	return rows, res.Code
}

// currentRelease is the release id <root>/current points at on host.
func currentRelease(t *testing.T, l *lab.Lab, host, root string) string {
	t.Helper()
	out, err := l.Exec(t, host, "readlink", "-f", root+"/current")
	require.NoError(t, err, out)
	return filepath.Base(strings.TrimSpace(out))
}

// monotonic reads a *TimestampMonotonic property of units on host.
func monotonic(t *testing.T, l *lab.Lab, host, prop string, units ...string) map[string]int64 {
	t.Helper()
	out, err := l.Exec(t, host, append([]string{"systemctl", "show", "-p", "Id," + prop, "--"}, units...)...)
	require.NoError(t, err, out)
	m := map[string]int64{}
	for _, rec := range strings.Split(strings.TrimSpace(out), "\n\n") {
		var id string
		var v int64
		for _, line := range strings.Split(rec, "\n") {
			k, val, _ := strings.Cut(line, "=")
			switch k {
			case "Id":
				id = val
			case prop:
				v, _ = strconv.ParseInt(val, 10, 64)
			}
		}
		m[id] = v
	}
	return m
}

// TestDay2 pins the day-2 commands on real systemd, in one deployment:
// status after apply, after kill -9, after a unit is stopped by hand and
// with a host unreachable; logs merged and followed (and no journalctl left
// behind); stop and start in dependency order; exec; uninstall --purge.
func TestDay2(t *testing.T) {
	parallelOn(t, "lab-1", "lab-2")
	l := lab.Require(t)
	d := newDeploy(t, l, "d2ops", 31000, "lab-1", "lab-2")
	root := "/opt/d2ops"
	removeStaleDropIns(t, l, d)
	require.Equal(t, cli.ExitOK, d.run("apply").Code)

	// status: every instance healthy, running the release current points at.
	rows, code := statusJSON(t, d)
	require.Equal(t, cli.ExitOK, code)
	require.Len(t, rows, 2*len(d.units()))
	for _, h := range d.hosts {
		rel := currentRelease(t, l, h, root)
		for _, u := range d.units() {
			row := rows[h+"/"+u]
			require.NotNil(t, row, "%s/%s missing", h, u)
			require.Equal(t, true, row["healthy"], "%s/%s: %v", h, u, row)
			if u != "gate.service" {
				require.Equal(t, rel, row["release"], "%s/%s", h, u)
			}
		}
		require.Equal(t, "ok", rows[h+"/backend@0.service"]["health"], "a tcp probe ran")
		require.Equal(t, "ok", rows[h+"/api@0.service"]["health"], "an http probe ran")
	}
	text := d.run("status")
	require.Equal(t, cli.ExitOK, text.Code)
	require.Regexp(t, `(?m)^lab-1 +backend@0 +active/running +\d+ +\S+ +0 +ok +\S+$`, text.Out)
	require.Regexp(t, `(?m)^backend +4/4 healthy$`, text.Out)

	// kill -9: systemd restarts it and status shows the count go up.
	before := rows["lab-1/backend@0.service"]
	out, err := l.Exec(t, "lab-1", "kill", "-9", fmt.Sprint(before["pid"]))
	require.NoError(t, err, out)
	waitFor(t, 30*time.Second, "backend@0 restarted by systemd", func() bool {
		st := d.show("lab-1", "backend@0.service")[0]
		return st["ActiveState"] == "active" && st["MainPID"] != fmt.Sprint(before["pid"]) && st["NRestarts"] != "0"
	})
	waitFor(t, 30*time.Second, "status to show backend@0 healthy after its restart", func() bool {
		rows, _ = statusJSON(t, d, "--limit", "lab-1")
		return rows["lab-1/backend@0.service"]["healthy"] == true
	})
	require.Greater(t, rows["lab-1/backend@0.service"]["restarts"], before["restarts"])

	// A unit stopped by hand: status lists it first and exits non-zero.
	out, err = l.Exec(t, "lab-2", "systemctl", "stop", "api@0.service")
	require.NoError(t, err, out)
	text = d.run("status")
	require.Equal(t, cli.ExitUnhealthy, text.Code)
	lines := strings.Split(text.Out, "\n")
	require.Regexp(t, `^lab-2 +api@0 +inactive/dead`, lines[1], "the problem is the first row")
	require.Regexp(t, `(?m)^api +1/2 healthy$`, text.Out)

	// start of one service brings it back, health-gated.
	res := d.run("start", "api", "--limit", "lab-2")
	require.Equal(t, cli.ExitOK, res.Code)
	require.Contains(t, res.Out, "[lab-2] healthy api@0")
	_, code = statusJSON(t, d)
	require.Equal(t, cli.ExitOK, code)

	// A host that cannot be reached is a row of its own; the others are listed.
	inv, err := os.ReadFile(filepath.Join(d.dir, "inventory.hcl"))
	require.NoError(t, err)
	gone := strings.Replace(string(inv), "defaults {", "defaults {\n  connect_timeout = \"3s\"", 1) +
		"host \"gone-1\" {\n  address = \"10.231.0.250\"\n  groups = [\"app\"]\n}\n"
	goneInv := filepath.Join(d.dir, "gone.hcl")
	require.NoError(t, os.WriteFile(goneInv, []byte(gone), 0o644))
	res = d.runRaw("status", "-i", goneInv, "-p", filepath.Join(d.dir, "playbook.hcl"), "--ssh-config", "none")
	require.Equal(t, cli.ExitUnreachable, res.Code)
	require.Regexp(t, `(?m)^gone-1 +- +unreachable`, res.Out)
	require.Regexp(t, `(?m)^lab-1 +api@0 +active/running`, res.Out)
	require.Regexp(t, `(?m)^lab-2 +api@0 +active/running`, res.Out)

	testDay2Logs(t, l, d)
	testDay2StopStart(t, l, d)

	// exec: every host's kernel, folded when identical, and a recap.
	res = d.run("exec", "--", "uname", "-r")
	require.Equal(t, cli.ExitOK, res.Code)
	for _, h := range d.hosts {
		k, err := l.Exec(t, h, "uname", "-r")
		require.NoError(t, err)
		require.Contains(t, res.Out, strings.TrimSpace(k))
		require.Regexp(t, `(?m)^`+h+` +exit=0$`, res.Out)
	}
	require.Contains(t, res.Out, "--- lab-1..2 (exit 0)")
	res = d.run("exec", "--stream", "--limit", "lab-2", "--", "sh", "-c", "echo out; exit 3")
	require.Equal(t, cli.ExitError, res.Code)
	require.Contains(t, res.Out, "[lab-2] out")
	require.Regexp(t, `(?m)^lab-2 +exit=3$`, res.Out)

	// -vv shows every remote command; -q only what the command is for.
	res = d.run("exec", "-vv", "--limit", "lab-1", "--", "echo", "hi")
	require.Equal(t, cli.ExitOK, res.Code)
	require.Regexp(t, `level=DEBUG msg=remote host=lab-1 op=run cmd="echo hi"`, res.Out)
	res = d.run("exec", "-q", "--", "echo", "hi")
	require.Equal(t, cli.ExitOK, res.Code)
	require.NotContains(t, res.Out, "==> Connect")
	require.Contains(t, res.Out, "--- lab-1..2 (exit 0)\nhi\n")

	testDay2Uninstall(t, l, d, root)
}

// testDay2Logs: lines from both hosts, prefixed and in time order; -f sees
// a new line and leaves no journalctl behind after Ctrl-C.
func testDay2Logs(t *testing.T, l *lab.Lab, d *deploy) {
	res := d.run("logs", "backend", "-n", "40")
	require.Equal(t, cli.ExitOK, res.Code)
	entry := regexp.MustCompile(`^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) (lab-[12]) (backend@[01]): `)
	seen := map[string]bool{}
	last := ""
	for _, line := range strings.Split(strings.TrimSpace(res.Out), "\n") {
		m := entry.FindStringSubmatch(line)
		require.NotNil(t, m, "line without host and instance prefix: %q", line)
		require.GreaterOrEqual(t, m[1], last, "out of time order: %q", line)
		last = m[1]
		seen[m[2]] = true
	}
	require.True(t, seen["lab-1"] && seen["lab-2"], "lines from both hosts: %v", seen)

	cmd := d.command("logs", "backend", "-f", "-n", "1")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	got := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			got <- sc.Text()
		}
		close(got)
	}()
	// -n 1: the last line of the merged backlog first, then the follow.
	select {
	case line := <-got:
		t.Logf("logs -f: %s", line)
	case <-time.After(60 * time.Second):
		t.Fatal("no backlog from logs -f")
	}
	waitFor(t, 30*time.Second, "journalctl -f running on both hosts", func() bool {
		for _, h := range d.hosts {
			if out, err := l.Exec(t, h, "pgrep", "-x", "journalctl"); err != nil || strings.TrimSpace(out) == "" {
				return false
			}
		}
		return true
	})
	out, err := l.Exec(t, "lab-2", "systemctl", "restart", "backend@1.service")
	require.NoError(t, err, out)
	pid := d.show("lab-2", "backend@1.service")[0]["MainPID"]
	want := "lab-2 backend@1: openim-rpc-user[1]: starting (pid " + pid + ")"
	deadline := time.After(60 * time.Second)
	for found := false; !found; {
		select {
		case line, ok := <-got:
			require.True(t, ok, "logs -f ended before the new line")
			t.Logf("logs -f: %s", line)
			found = strings.Contains(line, want)
		case <-deadline:
			t.Fatalf("logs -f never printed %q", want)
		}
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	require.NoError(t, cmd.Wait(), "Ctrl-C ends logs -f cleanly")
	waitFor(t, 15*time.Second, "no journalctl left on any host", func() bool {
		for _, h := range d.hosts {
			if out, _ := l.Exec(t, h, "pgrep", "-x", "journalctl"); strings.TrimSpace(out) != "" {
				return false
			}
		}
		return true
	})
}

// testDay2StopStart: stop goes dependents first, start dependencies first
// with the health gate between waves; the fleet round-trips.
func testDay2StopStart(t *testing.T, l *lab.Lab, d *deploy) {
	res := d.run("stop")
	require.Equal(t, cli.ExitOK, res.Code)
	inactive := map[string]map[string]int64{}
	for _, h := range d.hosts {
		for _, st := range d.show(h, append(d.units(), "d2ops.target")...) {
			require.Equal(t, "inactive", st["ActiveState"], "%s on %s", st["Id"], h)
		}
		inactive[h] = monotonic(t, l, h, "InactiveEnterTimestampMonotonic", d.units()...)
	}
	// Across the fleet: every api stopped before any backend, every backend
	// and cron before any gate (the lab's hosts share one monotonic clock).
	latest := func(units ...string) (v int64) {
		for _, h := range d.hosts {
			for _, u := range units {
				v = max(v, inactive[h][u])
			}
		}
		return v
	}
	earliest := func(units ...string) int64 {
		v := int64(1 << 62)
		for _, h := range d.hosts {
			for _, u := range units {
				v = min(v, inactive[h][u])
			}
		}
		return v
	}
	require.Less(t, latest("api@0.service"), earliest("backend@0.service", "backend@1.service"))
	require.Less(t, latest("backend@0.service", "backend@1.service", "cron@0.service"), earliest("gate.service"))

	res = d.run("start")
	require.Equal(t, cli.ExitOK, res.Code)
	active := map[string]map[string]int64{}
	for _, h := range d.hosts {
		for _, st := range d.show(h, append(d.units(), "d2ops.target")...) {
			require.Equal(t, "active", st["ActiveState"], "%s on %s", st["Id"], h)
		}
		active[h] = monotonic(t, l, h, "ActiveEnterTimestampMonotonic", d.units()...)
	}
	var lastBackend, firstAPI int64 = 0, 1 << 62
	for _, h := range d.hosts {
		lastBackend = max(lastBackend, active[h]["backend@0.service"], active[h]["backend@1.service"])
		firstAPI = min(firstAPI, active[h]["api@0.service"])
		require.Less(t, active[h]["gate.service"], active[h]["backend@0.service"])
	}
	require.GreaterOrEqual(t, firstAPI-lastBackend, int64(2*time.Second/time.Microsecond),
		"api started before the backends' 2s stable window ended")
	_, code := statusJSON(t, d)
	require.Equal(t, cli.ExitOK, code)
}

// testDay2Uninstall: refused without a terminal and -y; with --purge -y
// nothing of the app is left on any host; a second run finds nothing.
func testDay2Uninstall(t *testing.T, l *lab.Lab, d *deploy, root string) {
	res := d.run("uninstall")
	require.Equal(t, cli.ExitError, res.Code)
	require.Contains(t, res.Out, "pass -y")
	require.Equal(t, "active", d.show("lab-1", "api@0.service")[0]["ActiveState"], "a refused uninstall changes nothing")

	// A drop-in of the operator's own survives, with its directory.
	out, err := l.Exec(t, "lab-1", "sh", "-c", "mkdir -p /etc/systemd/system/api@0.service.d && echo '[Service]' > /etc/systemd/system/api@0.service.d/mine.conf")
	require.NoError(t, err, out)
	t.Cleanup(func() { _, _ = l.Exec(t, "lab-1", "rm", "-rf", "/etc/systemd/system/api@0.service.d") })

	res = d.run("uninstall", "--purge", "-y")
	require.Equal(t, cli.ExitOK, res.Code)
	require.Contains(t, res.Out, "kept /etc/systemd/system/api@0.service.d/")
	check := `set -u
app=$1 root=$2
cd /etc/systemd/system
for f in gate.service backend@.service api@.service cron@.service "$app.target"; do [ -e "$f" ] && echo "left: $f"; done
for d in gate.service.d backend@*.service.d cron@*.service.d api@.service.d "$app.target.d"; do [ -e "$d" ] && echo "left: $d"; done
grep -rl -- "$root" . 2>/dev/null | sed 's/^/mentions root: /'
ls -d /etc/systemd/system/*.wants/* 2>/dev/null | grep -E "/(gate\.service|backend@|api@|cron@|$app\.target)" | sed 's/^/enabled: /'
[ -e "$root" ] && echo "left: $root"
ls -d /var/lib/openim-deploy/"$app" /var/lib/openim-deploy/"$app".* 2>/dev/null | sed 's/^/state: /'
systemctl list-units --all --plain --no-legend 'gate.service' 'backend@*' 'api@*' 'cron@*' "$app.target" | grep -v 'not-found' | sed 's/^/unit: /'
true`
	for _, h := range d.hosts {
		out, err := l.Exec(t, h, "sh", "-c", check, "sh", d.app, root)
		require.NoError(t, err, out)
		require.Empty(t, strings.TrimSpace(out), "left on %s", h)
	}
	out, err = l.Exec(t, "lab-1", "cat", "/etc/systemd/system/api@0.service.d/mine.conf")
	require.NoError(t, err, out)

	res = d.run("uninstall", "--purge", "-y")
	require.Equal(t, cli.ExitOK, res.Code)
	require.Contains(t, res.Out, "nothing of d2ops is installed")
}

// removeStaleDropIns deletes drop-ins that another test's app left on the
// harness's shared unit names (gate.service, backend@N.service, ...): they
// would pin this deployment's units to that app's release. No other test
// uses these hosts meanwhile (the test is serial, or holds them through
// parallelOn), so anything found is stale.
// Only files carrying openim-deploy's header are removed.
func removeStaleDropIns(t *testing.T, l *lab.Lab, d *deploy) {
	t.Helper()
	script := `cd /etc/systemd/system || exit 0
for f in gate.service.d/* backend@*.service.d/* api@*.service.d/* cron@*.service.d/* edge@*.service.d/*; do
	[ -f "$f" ] || continue
	IFS= read -r first <"$f" || true
	case $first in "# Managed by openim-deploy"*) rm -f -- "$f" && echo "removed stale $f: $first" ;; esac
	rmdir -- "$(dirname -- "$f")" 2>/dev/null
done
systemctl daemon-reload`
	for _, h := range d.hosts {
		out, err := l.Exec(t, h, "sh", "-c", script)
		require.NoError(t, err, out)
		if strings.TrimSpace(out) != "" {
			t.Logf("%s: %s", h, out)
		}
	}
}
