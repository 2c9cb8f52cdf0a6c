package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/cli"
	"github.com/openimsdk/openim-deploy/internal/lab"
)

// Lab fault tests of issues 10 and 11 that stop hosts, cut links or fill
// disks while a run is in flight. They use the app-name prefix "e2eflt" and
// ports 23500-23899 (below the kernel's ephemeral range, 32768 and up: a health probe's local connection may take any port there), and put every host, link and disk back in a cleanup
// even when they fail: later tests of `make test` use the same hosts.

// labScript is lab/lab.sh of this checkout.
func labScript(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "lab", "lab.sh"))
	require.NoError(t, err)
	return p
}

// labCtlCmd is `lab/lab.sh ACTION HOST` (stop, start, restart) for lab l.
// lab.sh bounds its own waits (LAB_STOP_TIMEOUT, LAB_BOOT_TIMEOUT); the
// context bounds the whole command.
func labCtlCmd(ctx context.Context, script string, l *lab.Lab, action, host string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "bash", script, action, host)
	cmd.Env = append(os.Environ(), "LAB_OUT="+l.Dir, "LAB_STATE="+l.StateDir, "LAB_BOOT_TIMEOUT=60")
	return cmd
}

// labCtl runs `lab/lab.sh ACTION HOST` and reloads l from the lab.json it
// rewrote: a booted host has a new init PID, which Exec enters.
func labCtl(t *testing.T, l *lab.Lab, action, host string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := labCtlCmd(ctx, labScript(t), l, action, host).CombinedOutput()
	require.NoError(t, err, "lab.sh %s %s:\n%s", action, host, out)
	reloadLab(t, l)
}

// reloadLab re-reads lab.json into l, in place, so every deploy holding l
// sees the new PIDs.
func reloadLab(t *testing.T, l *lab.Lab) {
	t.Helper()
	fresh, err := lab.Load(l.Dir)
	require.NoError(t, err)
	*l = *fresh
}

// keepHostUp boots host again in a cleanup if a test left it stopped.
// Register it after the deploy, so it runs before the deploy's uninstall.
func keepHostUp(t *testing.T, l *lab.Lab, host string) {
	script := labScript(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if out, err := labCtlCmd(ctx, script, l, "start", host).CombinedOutput(); err != nil {
			t.Errorf("could not boot %s again: %v\n%s", host, err, out)
			return
		}
		if fresh, err := lab.Load(l.Dir); err == nil {
			*l = *fresh
		}
	})
}

// lineWriter hands every complete line written to it to onLine, and keeps
// all of it. The CLI may write from several goroutines.
type lineWriter struct {
	mu     sync.Mutex
	all    bytes.Buffer
	part   bytes.Buffer
	onLine func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.all.Write(p)
	w.part.Write(p)
	for {
		i := bytes.IndexByte(w.part.Bytes(), '\n')
		if i < 0 {
			break
		}
		line := string(w.part.Next(i + 1))
		if w.onLine != nil {
			w.onLine(strings.TrimSuffix(line, "\n"))
		}
	}
	return len(p), nil
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.all.String()
}

// startRun runs the CLI in-process in the background, like run, calling
// onLine (which must not block) for each line of output. The returned
// function waits for the result. A cleanup cancels and waits for a run the
// test did not wait for (a failed assertion before it).
func (d *deploy) startRun(onLine func(string), args ...string) func() result {
	d.t.Helper()
	full := append([]string{args[0], "-i", filepath.Join(d.dir, "inventory.hcl"), "-p", filepath.Join(d.dir, "playbook.hcl"), "--ssh-config", "none"}, args[1:]...)
	w := &lineWriter{onLine: onLine}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	done := make(chan int, 1)
	go func() {
		done <- cli.Run(ctx, full, cli.IO{In: strings.NewReader(""), Out: w, Err: w, Environ: os.Environ()})
	}()
	var once sync.Once
	var res result
	wait := func() result {
		once.Do(func() {
			res = result{Code: <-done, Out: w.String()}
			cancel()
			d.t.Logf("openim-deploy %s -> %d\n%s", strings.Join(full, " "), res.Code, res.Out)
		})
		return res
	}
	d.t.Cleanup(func() { cancel(); wait() })
	return wait
}

// pinRow is one instance's drop-in as read on its host.
type pinRow struct {
	unit, pinned, state, running string
}

// pins reads every drop-in of d's app on host and checks what it points at:
// state is "ok" when the pinned directory is a complete release (its
// manifest is written last, just before the rename into place) and the
// ExecStart= binary exists and is executable; running is the release the
// unit's process runs ("-" when none), with "incomplete:" in front when
// that directory is not a complete release.
func (d *deploy) pins(host string) []pinRow {
	d.t.Helper()
	script := `root=$1 app=$2
cd /etc/systemd/system || exit 1
for f in *.service.d/release.conf; do
	[ -f "$f" ] && head -n1 "$f" | grep -qF "(app=$app)" || continue
	u=${f%.d/release.conf}
	wd=$(sed -n 's/^WorkingDirectory=//p' "$f" | tail -n1)
	bin=$(sed -n 's/^ExecStart=[-@:+!]*//p' "$f" | grep . | tail -n1 | cut -d' ' -f1)
	state=ok
	case $wd in "$root"/releases/[!.]*) ;; *) state="not-a-release:$wd" ;; esac
	[ -f "$wd/.manifest" ] || state="incomplete:$wd"
	[ -x "$bin" ] || state="missing-binary:$bin"
	run=-
	pid=$(systemctl show -p MainPID --value "$u")
	if [ "${pid:-0}" != 0 ]; then
		cwd=$(readlink "/proc/$pid/cwd")
		run=${cwd##*/}
		[ -f "$cwd/.manifest" ] || run="incomplete:$cwd"
	fi
	printf '%s %s %s %s\n' "$u" "${wd##*/}" "$state" "$run"
done`
	out, err := d.lab.Exec(d.t, host, "sh", "-c", script, "sh", "/opt/"+d.app, d.app)
	require.NoError(d.t, err, out)
	var rows []pinRow
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		require.Len(d.t, f, 4, "drop-in line %q on %s", line, host)
		rows = append(rows, pinRow{f[0], f[1], f[2], f[3]})
	}
	require.NotEmpty(d.t, rows, "no drop-ins of %s on %s", d.app, host)
	return rows
}

// requireWhole asserts that on host every drop-in of the app pins a
// complete release whose binary exists, and every running instance runs a
// complete release. It returns the rows.
func (d *deploy) requireWhole(host string) []pinRow {
	d.t.Helper()
	rows := d.pins(host)
	for _, r := range rows {
		require.Equal(d.t, "ok", r.state, "%s on %s pins %s", r.unit, host, r.pinned)
		require.NotContains(d.t, r.running, "incomplete:", "%s on %s runs a release that is not complete", r.unit, host)
	}
	return rows
}

// fingerprint is what runs on host and what would run after a restart or a
// reboot: each instance's main PID and the SHA-256 of its binary, where
// current points, the SHA-256 of every unit file and drop-in of the app,
// and the completed releases. Two equal fingerprints mean nothing that
// runs or would run was touched.
func (d *deploy) fingerprint(host string) string {
	d.t.Helper()
	script := `root=$1 app=$2; shift 2
for u in "$@"; do
	pid=$(systemctl show -p MainPID --value "$u")
	sum=-
	[ "${pid:-0}" != 0 ] && sum=$(sha256sum < "/proc/$pid/exe" | cut -d' ' -f1)
	printf '%s pid=%s exe=%s\n' "$u" "$pid" "$sum"
done
echo "current -> $(readlink "$root/current")"
cd /etc/systemd/system || exit 1
for f in *.service *.target *.service.d/*.conf; do
	[ -f "$f" ] && head -n1 "$f" | grep -qF "(app=$app)" && sha256sum "$f"
done
echo "releases: $(ls "$root/releases" | tr '\n' ' ')"`
	out, err := d.lab.Exec(d.t, host, append([]string{"sh", "-c", script, "sh", "/opt/" + d.app, d.app}, d.services()...)...)
	require.NoError(d.t, err, out)
	require.Contains(d.t, out, ".service.d/release.conf", "the fingerprint covers the drop-ins")
	return out
}

// leftovers lists partial releases and upload temp files under the app's
// root on host.
func (d *deploy) leftovers(host string) string {
	d.t.Helper()
	out, err := d.lab.Exec(d.t, host, "sh", "-c", `find "$1" \( -name '.*.partial' -o -name '.*.openim-deploy-*' \) -print 2>/dev/null; true`, "sh", "/opt/"+d.app)
	require.NoError(d.t, err, out)
	return strings.TrimSpace(out)
}

// uploading is the size of the largest upload temp file of base under the
// app's root on host, or 0.
func (d *deploy) uploading(host, base string) int64 {
	d.t.Helper()
	out, _ := d.lab.Exec(d.t, host, "sh", "-c", `find "$1/releases" -name ".$2.openim-deploy-*" -printf '%s\n' 2>/dev/null; true`, "sh", "/opt/"+d.app, base)
	var n int64
	for _, f := range strings.Fields(out) {
		if v, err := strconv.ParseInt(f, 10, 64); err == nil {
			n = max(n, v)
		}
	}
	return n
}

// writeRandomFile writes n random (incompressible) bytes to path.
func writeRandomFile(t *testing.T, path string, n int) {
	t.Helper()
	b := make([]byte, n)
	_, _ = rand.Read(b)
	require.NoError(t, os.WriteFile(path, b, 0o644))
}

// throttle limits what the controller sends to host to rate (a token
// bucket on the controller's end of its veth; this kernel has tbf and htb
// but no netem), so an upload lasts long enough to be cut in the middle. A
// cleanup removes it; removing it twice is harmless.
func throttle(t *testing.T, h lab.Host, rate string) {
	t.Helper()
	out, err := exec.Command("tc", "qdisc", "replace", "dev", h.Veth, "root", "tbf", "rate", rate, "burst", "32kbit", "latency", "400ms").CombinedOutput()
	require.NoError(t, err, "tc on %s: %s", h.Veth, out)
	t.Cleanup(func() { unthrottle(h) })
}

func unthrottle(h lab.Host) { _ = exec.Command("tc", "qdisc", "del", "dev", h.Veth, "root").Run() }

// setLink sets host's eth0 up or down inside its network namespace.
func setLink(h lab.Host, state string) error {
	out, err := exec.Command("ip", "-n", h.Netns, "link", "set", "eth0", state).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip -n %s link set eth0 %s: %w: %s", h.Netns, state, err, out)
	}
	return nil
}

// lostHost matches how a run reports a host it lost in the middle.
var lostHost = regexp.MustCompile(`unreachable|connection lost|outcome unknown`)

// TestFltRebootMidRollout reboots a host (its container shut down and
// booted again) while a rolling upgrade restarts instances on it: the run
// reports that host as lost and stops the rollout; no host is left half
// updated, rebooted one included: every drop-in pins a complete release
// with its binary, every running instance runs one, and backend instances
// run the release they are pinned to. Once the host is back (and the
// dead run's short lease has expired), a re-run converges and a third run
// has nothing to do.
func TestFltRebootMidRollout(t *testing.T) {
	l := lab.Require(t)
	hosts := []string{"lab-1", "lab-2", "lab-3"}
	const victim = "lab-3"
	d := fresh(t, l, "e2efltrb", 23500, hosts...)
	keepHostUp(t, l, victim)
	// Batches of 2 over 3 hosts: {lab-1, lab-2}, {lab-3, lab-1}, {lab-2,
	// lab-3}. A 4 s gate keeps the victim's batch in flight while it goes
	// down.
	d.playbook = "rollout {\n  batch = 2\n}\n"
	d.writePlaybook()
	replaceInFile(t, d, "instance.index}\"\n    stable = \"2s\"", "instance.index}\"\n    stable = \"4s\"")
	require.Equal(t, cli.ExitOK, d.run("apply").Code)
	v1 := d.runningRelease("lab-1", "backend@0.service")["backend@0.service"]

	d.appendBin("openim-rpc-user")
	script := labScript(t)
	var trigger sync.Once
	var fired atomic.Bool
	rebooted := make(chan error, 1)
	reboot := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		out, err := labCtlCmd(ctx, script, l, "restart", victim).CombinedOutput()
		if err != nil {
			err = fmt.Errorf("lab.sh restart %s: %w\n%s", victim, err, out)
		}
		rebooted <- err
	}
	wait := d.startRun(func(line string) {
		if strings.Contains(line, "rolling backend: batch ") && strings.Contains(line, victim+"/") {
			trigger.Do(func() { fired.Store(true); go reboot() })
		}
	}, "apply", "--lock-ttl", "5s")
	res := wait()
	require.True(t, fired.Load(), "the rollout reached %s's batch", victim)
	select {
	case err := <-rebooted:
		require.NoError(t, err)
	case <-time.After(3 * time.Minute):
		t.Fatalf("lab.sh restart %s did not finish", victim)
	}
	reloadLab(t, l)

	require.Equal(t, cli.ExitUnreachable, res.Code, "a host lost in the middle is reported as unreachable")
	var victimErr []string
	for _, line := range strings.Split(res.Out, "\n") {
		if strings.HasPrefix(line, "["+victim+"] error: ") {
			victimErr = append(victimErr, line)
		}
	}
	require.NotEmpty(t, victimErr, "the run names %s's failure", victim)
	require.Regexp(t, lostHost, strings.Join(victimErr, "\n"))
	require.NotContains(t, res.Out, "rolling backend: batch 3/3", "no batch starts after the failed one")

	var v2 string
	for _, h := range hosts {
		for _, r := range d.requireWhole(h) {
			if !strings.HasPrefix(r.unit, "backend@") || h == victim {
				continue
			}
			require.Equal(t, r.pinned, r.running, "%s on %s runs the release it is pinned to", r.unit, h)
			if r.pinned != v1 {
				if v2 == "" {
					v2 = r.pinned
				}
				require.Equal(t, v2, r.pinned, "%s on %s: one new release", r.unit, h)
			}
		}
	}
	// The rebooted host started what it was pinned to at boot.
	for _, r := range d.requireWhole(victim) {
		if strings.HasPrefix(r.unit, "backend@") {
			require.Equal(t, r.pinned, r.running, "%s on %s after the reboot", r.unit, victim)
		}
	}

	res = d.run("apply", "--lock-wait", "30s")
	require.Equal(t, cli.ExitOK, res.Code, "the re-run converges")
	v := d.runningRelease("lab-1", "backend@0.service")["backend@0.service"]
	require.NotEqual(t, v1, v)
	d.requireRuns(v, v, "backend@0.service", "backend@1.service")
	for _, h := range hosts {
		d.requireWhole(h)
		for _, st := range d.show(h, d.services()...) {
			require.Equal(t, "active", st["ActiveState"], "%s on %s", st["Id"], h)
		}
	}
	require.Contains(t, d.run("apply").Out, "Plan: no changes.")
}

// TestFltStatusStoppedHost stops one host of two (its container shut
// down): status lists it as a row of its own marked unreachable, lists the
// other host's instances, and exits 5. Booted again, the host runs its
// instances (they are enabled) and status is clean.
func TestFltStatusStoppedHost(t *testing.T) {
	l := lab.Require(t)
	const up, down = "lab-4", "lab-5"
	d := fresh(t, l, "e2efltst", 23600, up, down)
	keepHostUp(t, l, down)
	require.Equal(t, cli.ExitOK, d.run("apply").Code)

	labCtl(t, l, "stop", down)
	res := d.run("status")
	require.Equal(t, cli.ExitUnreachable, res.Code)
	require.Regexp(t, `(?m)^`+down+` +- +unreachable`, res.Out)
	require.NotRegexp(t, `(?m)^`+down+` +[a-z]+@`, res.Out, "no instance rows for the stopped host")
	for _, u := range []string{"backend@0", "backend@1", "api@0", "cron@0"} {
		require.Regexp(t, `(?m)^`+up+` +`+u+` +active/running`, res.Out)
	}

	labCtl(t, l, "start", down)
	waitFor(t, 30*time.Second, "status to be clean after "+down+" booted", func() bool {
		_, code := statusJSON(t, d)
		return code == cli.ExitOK
	})
}

// TestFltUploadCut cuts a host's link when about half of a 20 MB file has
// reached it: keepalives notice, the run reports the host ("connection
// lost", exit 5) and stops before any restart, so the other host, which
// received the release, still runs and pins the old one; on the cut host
// what runs and what would run after a reboot (binaries, unit files,
// drop-ins, current) is byte-identical to before. With the link back, a
// re-run converges and leaves no partial release or temp file.
func TestFltUploadCut(t *testing.T) {
	l := lab.Require(t)
	const other, victim = "lab-4", "lab-5"
	d := fresh(t, l, "e2efltup", 23700, other, victim)
	h := l.Host(t, victim)
	t.Cleanup(func() {
		unthrottle(h)
		if err := setLink(h, "up"); err != nil {
			t.Error(err)
		}
	})
	require.Equal(t, cli.ExitOK, d.run("apply").Code)
	v1 := d.runningRelease(other, "backend@0.service")["backend@0.service"]
	before := d.fingerprint(victim)

	const size = 20 << 20
	writeRandomFile(t, filepath.Join(d.dir, "config", "big.bin"), size)
	throttle(t, h, "20mbit") // about 8 s for the file
	// A short lease: the cut host keeps it (its release cannot reach it).
	wait := d.startRun(nil, "apply", "--lock-ttl", "5s")
	waitFor(t, 60*time.Second, "half of big.bin on "+victim, func() bool { return d.uploading(victim, "big.bin") >= size/2 })
	require.NoError(t, setLink(h, "down"))
	cut := time.Now()
	res := wait()
	took := time.Since(cut)

	require.Less(t, took, time.Minute, "the run ended on its own after the cut (keepalive), not on a deadline")
	require.Equal(t, cli.ExitUnreachable, res.Code)
	require.Regexp(t, regexp.MustCompile(`(?m)^\[`+victim+`\] error: .*(`+lostHost.String()+`)`), res.Out)
	require.Equal(t, before, d.fingerprint(victim), "what runs on the cut host is untouched")
	d.requireWhole(victim)
	// A host failing the push stops the run before any restart: the other
	// host received the new release, and still runs the old one whole.
	for _, r := range d.requireWhole(other) {
		require.Equal(t, v1, r.pinned, "%s on %s", r.unit, other)
	}
	d.requireRuns(v1, v1, "backend@0.service", "backend@1.service", "api@0.service")

	require.NoError(t, setLink(h, "up"))
	unthrottle(h)
	require.Equal(t, cli.ExitOK, d.run("apply", "--lock-wait", "30s").Code, "the re-run converges")
	for _, host := range d.hosts {
		require.Empty(t, d.leftovers(host), "no partial release or temp file on %s", host)
		d.requireWhole(host)
	}
	require.Contains(t, d.run("apply").Out, "Plan: no changes.")
}

// TestFltUploadNoSpace fills the app root (a tmpfs with room enough for
// pre-flight) while a 20 MB file is being uploaded to it: the run fails
// with "no space left on device", removes the file it was writing, and
// what runs (binaries, unit files, drop-ins, current) is byte-identical to
// before. Once there is room, a re-run converges and leaves no partial
// release or temp file.
func TestFltUploadNoSpace(t *testing.T) {
	l := lab.Require(t)
	const host = "lab-6"
	const root = "/opt/e2efltns"
	// Mounted before the deploy, so its cleanup (stopping the units) runs
	// before the umount.
	out, err := l.Exec(t, host, "sh", "-c", `mountpoint -q "$1" && umount "$1"; mkdir -p "$1" && mount -t tmpfs -o size=300m tmpfs "$1"`, "sh", root)
	require.NoError(t, err, out)
	t.Cleanup(func() { _, _ = l.Exec(t, host, "sh", "-c", `umount "$1"; rm -rf "$1"; true`, "sh", root) })
	d := fresh(t, l, "e2efltns", 23800, host)
	h := l.Host(t, host)
	require.Equal(t, cli.ExitOK, d.run("apply").Code)
	before := d.fingerprint(host)

	const size = 20 << 20
	writeRandomFile(t, filepath.Join(d.dir, "config", "big.bin"), size)
	throttle(t, h, "20mbit")
	wait := d.startRun(nil, "apply")
	waitFor(t, 60*time.Second, "half of big.bin on "+host, func() bool { return d.uploading(host, "big.bin") >= size/2 })
	// Take every byte left (asking for more than there is): the next write
	// of the upload fails.
	out, err = l.Exec(t, host, "sh", "-c", `head -c $(( ($(df -k --output=avail "$1" | tail -n1) + 4096) * 1024 )) /dev/zero > "$1/filler" 2>/dev/null; df -k --output=avail "$1" | tail -n1`, "sh", root)
	require.NoError(t, err, out)
	require.Equal(t, "0", strings.TrimSpace(out), "the filler took every byte")
	res := wait()

	require.Equal(t, cli.ExitError, res.Code)
	require.NotContains(t, res.Out, "refused: disk", "pre-flight saw enough room")
	require.Regexp(t, `(?m)^\[`+host+`\] error: .*no space left on device`, res.Out)
	require.Equal(t, before, d.fingerprint(host), "what runs is untouched")
	d.requireWhole(host)
	out, err = l.Exec(t, host, "sh", "-c", `find "$1/releases" -name '.big.bin.openim-deploy-*'; true`, "sh", root)
	require.NoError(t, err)
	require.Empty(t, strings.TrimSpace(out), "the failed upload's temp file was removed")

	_, err = l.Exec(t, host, "rm", "-f", root+"/filler")
	require.NoError(t, err)
	unthrottle(h)
	require.Equal(t, cli.ExitOK, d.run("apply").Code, "the re-run converges")
	require.Empty(t, d.leftovers(host), "no partial release or temp file")
	d.requireWhole(host)
	require.Contains(t, d.run("apply").Out, "Plan: no changes.")
}
