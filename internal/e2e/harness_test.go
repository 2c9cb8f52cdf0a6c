// Package e2e runs openim-deploy against the lab: Debian hosts booted with
// systemd-nspawn, real sshd and real systemd. The tests skip when the lab is
// not up, and fail instead when OPENIM_LAB_REQUIRED is set (make test).
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/cli"
	"github.com/openimsdk/openim-deploy/internal/lab"
	"github.com/openimsdk/openim-deploy/internal/target/remote"
)

// standinPath is the stand-in binary built once for every test.
var standinPath string

func TestMain(m *testing.M) {
	// Re-executed as the CLI by tests that must kill a real process.
	if os.Getenv("OPENIM_E2E_AS_CLI") == "1" {
		os.Exit(cli.Main())
	}
	dir, err := os.MkdirTemp("", "openim-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	standinPath = filepath.Join(dir, "openim-standin")
	build := exec.Command("go", "build", "-trimpath", "-o", standinPath, "github.com/openimsdk/openim-deploy/cmd/openim-standin")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build stand-in: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// Lab tests run one at a time unless they say otherwise. A test that only
// deploys its own app (own name, own ports) to some hosts and reads them
// back may run beside others: it calls parallelOn first, naming every lab
// host it touches, and then runs once no other running test holds any of
// those hosts. Tests on disjoint hosts overlap; tests sharing a host take
// turns. The harness's playbook gives every app the same unit names
// (gate.service, backend@N.service, ...) and uninstall clears their
// drop-ins host-wide, so two apps of the harness cannot share a host at
// once: the host, not the app, is the unit of isolation. See "Lab tests in
// parallel" in docs/development.md for which tests must stay serial.

// hostLeases are the lab hosts held by running parallel tests.
var hostLeases = struct {
	mu   sync.Mutex
	cond *sync.Cond
	held map[string]string   // host -> test holding it
	of   map[string][]string // test -> hosts it holds
}{held: map[string]string{}, of: map[string][]string{}}

func init() { hostLeases.cond = sync.NewCond(&hostLeases.mu) }

// parallelOn marks t parallel (t.Parallel) and blocks until it holds every
// one of hosts, all at once (so two tests never deadlock holding one host
// each). The hosts are released after every other cleanup of t, uninstall
// included: call it first in the test, before lab.Require and newDeploy.
// newDeploy fails a parallel test that deploys to a host it does not hold.
func parallelOn(t *testing.T, hosts ...string) {
	t.Helper()
	if len(hosts) == 0 {
		t.Fatal("parallelOn: name the lab hosts the test uses")
	}
	t.Parallel()
	hosts = append([]string(nil), hosts...)
	asked := time.Now()
	hostLeases.mu.Lock()
	for {
		free := true
		for _, h := range hosts {
			if _, busy := hostLeases.held[h]; busy {
				free = false
				break
			}
		}
		if free {
			break
		}
		hostLeases.cond.Wait()
	}
	for _, h := range hosts {
		hostLeases.held[h] = t.Name()
	}
	hostLeases.of[t.Name()] = hosts
	hostLeases.mu.Unlock()
	// go test's time for the test includes this wait: log it apart.
	t.Logf("holds lab hosts %v after waiting %.1fs for them", hosts, time.Since(asked).Seconds())
	t.Cleanup(func() {
		hostLeases.mu.Lock()
		for _, h := range hosts {
			delete(hostLeases.held, h)
		}
		delete(hostLeases.of, t.Name())
		hostLeases.cond.Broadcast()
		hostLeases.mu.Unlock()
	})
}

// requireLeased fails a parallel test that uses a lab host it did not name
// (newDeploy, show and runningRelease call it)
// to parallelOn. A serial test (no lease) may use any host: none other runs.
func requireLeased(t testing.TB, hosts ...string) {
	t.Helper()
	name, _, _ := strings.Cut(t.Name(), "/")
	hostLeases.mu.Lock()
	held, parallel := hostLeases.of[name]
	hostLeases.mu.Unlock()
	if !parallel {
		return
	}
	for _, h := range hosts {
		if !slices.Contains(held, h) {
			t.Fatalf("%s runs in parallel on %v but deploys to %s: add it to parallelOn", name, held, h)
		}
	}
}

// result is one CLI invocation.
type result struct {
	Code int
	Out  string
}

// deploy is a small app deployed to lab hosts: its own root, target and
// ports, so tests do not disturb each other or the demo.
type deploy struct {
	t        testing.TB
	lab      *lab.Lab
	dir      string
	app      string
	hosts    []string
	base     int    // first port
	playbook string // extra HCL appended to the playbook
	// secretDelivery, when set, is the app's secret_delivery.
	secretDelivery string
}

func newDeploy(t testing.TB, l *lab.Lab, app string, base int, hosts ...string) *deploy {
	t.Helper()
	requireLeased(t, hosts...)
	d := &deploy{t: t, lab: l, dir: t.TempDir(), app: app, hosts: hosts, base: base}
	for _, sub := range []string{"bin", "config"} {
		require.NoError(t, os.MkdirAll(filepath.Join(d.dir, sub), 0o755))
	}
	for _, name := range []string{"check-component", "openim-rpc-user", "openim-api", "openim-crontask", "openim-push"} {
		d.installStandin(name)
	}
	d.writeConfig("")
	require.NoError(t, os.WriteFile(filepath.Join(d.dir, "inventory.hcl"), []byte(d.inventory()), 0o644))
	d.writePlaybook()
	t.Cleanup(d.uninstall)
	return d
}

// installStandin copies the stand-in under name into bin/.
func (d *deploy) installStandin(name string) {
	b, err := os.ReadFile(standinPath)
	require.NoError(d.t, err)
	require.NoError(d.t, os.WriteFile(filepath.Join(d.dir, "bin", name), b, 0o755))
}

// writeBin replaces bin/name with content.
func (d *deploy) writeBin(name, content string) {
	require.NoError(d.t, os.WriteFile(filepath.Join(d.dir, "bin", name), []byte(content), 0o755))
}

// appendBin changes bin/name's hash without changing what it does.
func (d *deploy) appendBin(name string) {
	f, err := os.OpenFile(filepath.Join(d.dir, "bin", name), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(d.t, err)
	_, err = f.WriteString("\x00changed " + strconv.FormatInt(time.Now().UnixNano(), 10))
	require.NoError(d.t, err)
	require.NoError(d.t, f.Close())
}

func (d *deploy) writeConfig(extra string) {
	b := d.base
	cfg := fmt.Sprintf(`{
  "openim-rpc-user": {"ports": [%d, %d]},
  "openim-api": {"ports": [%d]},
  "openim-push": {"ports": [%d]},
  "openim-crontask": {}%s
}
`, b, b+1, b+10, b+20, extra)
	require.NoError(d.t, os.WriteFile(filepath.Join(d.dir, "config", "standin.json"), []byte(cfg), 0o644))
}

func (d *deploy) inventory() string {
	var b strings.Builder
	fmt.Fprintf(&b, "defaults {\n  user = \"root\"\n  identity = %q\n  known_hosts = %q\n}\n", d.lab.KeyPath, d.lab.KnownHostsPath)
	for _, name := range d.hosts {
		h := d.lab.Host(d.t, name)
		fmt.Fprintf(&b, "host %q {\n  address = %q\n  groups = [\"app\"]\n}\n", h.Name, h.Address)
	}
	return b.String()
}

// writePlaybook writes a three-level app: a gate task, a backend with two
// instances, an api that depends on it, and a cron job that reads no files.
func (d *deploy) writePlaybook() {
	pb := fmt.Sprintf(`
variable "bin_dir" { default = "bin" }
app %[1]q {
  root = "/opt/%[1]s"
  user = "openim"
  %[5]s
}
files "config" {
  source = "config"
  hosts  = ["app"]
}
task "gate" {
  binary = "${var.bin_dir}/check-component"
  hosts  = ["app"]
}
service "backend" {
  binary     = "${var.bin_dir}/openim-rpc-user"
  args       = ["-i", "%%i", "-c", "config"]
  hosts      = ["app"]
  instances  = 2
  depends_on = ["gate"]
  health {
    tcp    = "127.0.0.1:${%[2]d + instance.index}"
    stable = "2s"
  }
}
service "api" {
  binary     = "${var.bin_dir}/openim-api"
  args       = ["-i", "%%i", "-c", "config"]
  hosts      = ["app"]
  depends_on = ["backend"]
  health {
    http    = "http://127.0.0.1:%[3]d/healthz"
    stable  = "2s"
    retries = 12
  }
}
service "cron" {
  binary    = "${var.bin_dir}/openim-crontask"
  args      = ["-i", "%%i", "-c", "config"]
  hosts     = ["app"]
  files     = []
  depends_on = ["gate"]
  health { stable = "2s" }
}
%[4]s
`, d.app, d.base, d.base+10, d.playbook, d.deliveryAttr())
	require.NoError(d.t, os.WriteFile(filepath.Join(d.dir, "playbook.hcl"), []byte(pb), 0o644))
}

func (d *deploy) deliveryAttr() string {
	if d.secretDelivery == "" {
		return ""
	}
	return fmt.Sprintf("secret_delivery = %q", d.secretDelivery)
}

// run invokes the CLI in-process with -i/-p set.
func (d *deploy) run(args ...string) result {
	d.t.Helper()
	return d.runRaw(append([]string{args[0], "-i", filepath.Join(d.dir, "inventory.hcl"), "-p", filepath.Join(d.dir, "playbook.hcl"), "--ssh-config", "none"}, args[1:]...)...)
}

// runRaw invokes the CLI in-process with exactly args.
func (d *deploy) runRaw(full ...string) result {
	d.t.Helper()
	return d.runCounting(nil, full...)
}

// runCounted is run with every SSH connection, session and byte counted
// per host.
func (d *deploy) runCounted(args ...string) (result, *remote.Counters) {
	d.t.Helper()
	c := &remote.Counters{}
	return d.runCounting(c, append([]string{args[0], "-i", filepath.Join(d.dir, "inventory.hcl"), "-p", filepath.Join(d.dir, "playbook.hcl"), "--ssh-config", "none"}, args[1:]...)...), c
}

func (d *deploy) runCounting(c *remote.Counters, full ...string) result {
	d.t.Helper()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	code := cli.Run(ctx, full, cli.IO{In: strings.NewReader(""), Out: &out, Err: &out, Environ: os.Environ(), Counters: c})
	d.t.Logf("openim-deploy %s -> %d\n%s", strings.Join(full, " "), code, out.String())
	return result{Code: code, Out: out.String()}
}

// command returns the CLI as a separate process (the test binary re-executed).
func (d *deploy) command(args ...string) *exec.Cmd {
	full := append([]string{args[0], "-i", filepath.Join(d.dir, "inventory.hcl"), "-p", filepath.Join(d.dir, "playbook.hcl"), "--ssh-config", "none"}, args[1:]...)
	cmd := exec.Command(os.Args[0], full...)
	cmd.Env = append(os.Environ(), "OPENIM_E2E_AS_CLI=1")
	return cmd
}

// units lists every unit name of the app on one host, in playbook order.
func (d *deploy) units() []string {
	return []string{"gate.service", "backend@0.service", "backend@1.service", "api@0.service", "cron@0.service"}
}

// show returns systemd properties of units on host, parsed into maps.
func (d *deploy) show(host string, units ...string) []map[string]string {
	d.t.Helper()
	requireLeased(d.t, host)
	args := append([]string{"systemctl", "show", "-p", "Id,ActiveState,SubState,NRestarts,MainPID,ExecMainStartTimestampMonotonic,NeedDaemonReload,UnitFileState", "--"}, units...)
	out, err := d.lab.Exec(d.t, host, args...)
	require.NoError(d.t, err, out)
	var states []map[string]string
	for _, rec := range strings.Split(strings.TrimSpace(out), "\n\n") {
		m := map[string]string{}
		for _, line := range strings.Split(rec, "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				m[k] = v
			}
		}
		states = append(states, m)
	}
	require.Len(d.t, states, len(units))
	return states
}

// starts returns ExecMainStartTimestampMonotonic of units (default: the
// app's own) on every host, keyed "host/unit".
func (d *deploy) starts(units ...string) map[string]string {
	if len(units) == 0 {
		units = d.units()
	}
	m := map[string]string{}
	for _, h := range d.hosts {
		for _, st := range d.show(h, units...) {
			m[h+"/"+st["Id"]] = st["ExecMainStartTimestampMonotonic"]
		}
	}
	return m
}

// uninstall removes the app from the hosts so the lab stays clean for the
// next test: units stopped and deleted, root removed, lock removed.
func (d *deploy) uninstall() {
	// One systemctl call per verb for every unit of the app, disable with
	// --no-reload and one daemon-reload at the end: systemctl disable
	// reloads systemd by itself, which made this cost seconds per unit.
	script := `app=$1
cd /etc/systemd/system || exit 1
ours() { [ -f "$1" ] && head -n1 "$1" | grep -qF "(app=$app)"; }
units=''
[ ! -f "$app.target" ] || units="$app.target"
for w in "$app.target.wants"/*; do
	[ -e "$w" ] || [ -L "$w" ] || continue
	units="$units ${w##*/}"
done
for f in *.service *.service.d/release.conf; do
	ours "$f" || continue
	u=${f%.d/release.conf}
	case $u in *@.service) ;; *) units="$units $u" ;; esac
done
# $units is split on purpose: unit names have no blanks.
if [ -n "$units" ]; then
	# shellcheck disable=SC2086
	systemctl stop -- $units 2>/dev/null
	# shellcheck disable=SC2086
	systemctl disable --no-reload -- $units >/dev/null 2>&1
fi
for f in *.service *.target *.service.d/release.conf; do
	ours "$f" || continue
	rm -f "$f"
	case $f in *.d/release.conf) rmdir "${f%/release.conf}" 2>/dev/null ;; esac
done
rm -rf "$app.target.wants"
# Drop-ins of the harness's shared unit names too, whoever left them: a
# stale one pins the next app's unit to a release that no longer exists.
rm -rf gate.service.d backend@*.service.d api@*.service.d cron@*.service.d edge@*.service.d
systemctl daemon-reload
systemctl reset-failed 2>/dev/null
rm -rf "/opt/$app" "/var/lib/openim-deploy/$app.lock" "/var/lib/openim-deploy/$app"
true`
	var wg sync.WaitGroup
	for _, h := range d.hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, err := d.lab.Exec(d.t, h, "sh", "-c", script, "sh", d.app); err != nil {
				d.t.Logf("uninstall %s on %s: %v\n%s", d.app, h, err, out)
			}
		}()
	}
	wg.Wait()
}
