package e2e

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/cli"
	"github.com/openimsdk/openim-deploy/internal/lab"
	"github.com/openimsdk/openim-deploy/internal/target/remote"
)

// The bench job's apps and ports: openim-deploy deploys benchApp, the floor
// script benchFloorApp, side by side on the same hosts.
const (
	benchApp       = "bench12"
	benchPort      = 21210
	benchFloorApp  = "bench12f"
	benchFloorPort = 21220
)

// TestBenchTable is make bench's driver, not a test: it runs only with
// OPENIM_BENCH=1 and asserts nothing about time. On the lab's systemd hosts
// it times the same job done by openim-deploy and by the floor script
// (bench/floor.sh) in four scenarios, OPENIM_BENCH_RUNS times each
// (default 5), interleaved, and prints the medians, the ratio, bytes sent,
// and SSH connections and sessions per host. OPENIM_BENCH_SHAPE=1 adds the
// same table on a shaped link (netem on every host's veth: 100 Mbit/s,
// 20 ms RTT), removed afterwards. OPENIM_BENCH_LOCK names a lock file the
// driver takes around each scenario (and each uninstall), so other users of
// the lab can run in between. OPENIM_BENCH_LINKS ("shaped,direct") and
// OPENIM_BENCH_ONLY (scenario name prefixes: "upgrade,cold") choose what
// runs, in that order.
//
// Compression: OPENIM_BENCH_COMPRESS passes --compress to every apply
// (auto, always or never; unset: the playbook's default) and
// OPENIM_BENCH_FLOOR_GZIP=1 makes the floor gzip the binary too. Both take
// comma-separated lists, paired in order ("never,auto" with "0,1"): the
// scenarios that send the binary (cold apply, upgrade) then measure every
// pair in each run, interleaved, one row per pair; the others send no file
// and are measured once.
func TestBenchTable(t *testing.T) {
	l, hosts, runs := benchDriver(t, 5)
	b := newBench(t, l, hosts, runs)
	links := []string{"direct"}
	if os.Getenv("OPENIM_BENCH_SHAPE") == "1" {
		links = append(links, "shaped")
	}
	if v := os.Getenv("OPENIM_BENCH_LINKS"); v != "" {
		links = strings.Split(v, ",")
	}
	host, _ := os.Hostname()
	fmt.Printf("\nopenim-deploy vs the floor (bench/floor.sh): %d hosts, medians of %d runs, on %s (%s/%s, %d CPUs)\n",
		len(hosts), runs, host, runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	for _, link := range links {
		if link == "shaped" && !b.hasNetem() {
			fmt.Println("\nshaped link: this kernel has no netem; tbf limits the rate to 100 Mbit/s each way, no delay is added")
		}
		var rows []benchRow
		for _, sc := range selectScenarios(os.Getenv("OPENIM_BENCH_ONLY")) {
			rows = append(rows, b.scenario(sc, link)...)
		}
		printBenchTable(link, rows)
	}
}

// selectScenarios returns the scenarios whose names start with one of the
// comma-separated prefixes in only, in that order; "" means all, in table
// order.
func selectScenarios(only string) []benchScenario {
	if only == "" {
		return benchScenarios
	}
	var out []benchScenario
	for _, p := range strings.Split(only, ",") {
		for _, sc := range benchScenarios {
			if strings.HasPrefix(sc.name, p) {
				out = append(out, sc)
			}
		}
	}
	return out
}

// benchVariant is one way of sending the binary: openim-deploy's
// --compress ("" leaves the playbook's) beside the floor's plain or gzip.
type benchVariant struct {
	compress  string
	floorGzip bool
}

func (v benchVariant) String() string {
	floor := "plain"
	if v.floorGzip {
		floor = "gzip -1"
	}
	return "compress " + cmp.Or(v.compress, "default") + " / floor " + floor
}

// benchVariants pairs OPENIM_BENCH_COMPRESS with OPENIM_BENCH_FLOOR_GZIP,
// the shorter list repeating its last value.
func benchVariants() []benchVariant {
	cs := strings.Split(os.Getenv("OPENIM_BENCH_COMPRESS"), ",")
	gs := strings.Split(os.Getenv("OPENIM_BENCH_FLOOR_GZIP"), ",")
	vs := make([]benchVariant, max(len(cs), len(gs)))
	for i := range vs {
		vs[i] = benchVariant{compress: cs[min(i, len(cs)-1)], floorGzip: gs[min(i, len(gs)-1)] == "1"}
	}
	return vs
}

// bench holds the two deployments of the job.
type bench struct {
	t      *testing.T
	lab    *lab.Lab
	hosts  []lab.Host
	runs   int
	dir    string // openim-deploy's inventory, playbook, bin/ and config/
	floor  string // the floor's copy of the binary
	script string // floor.sh
	stats  string // where floor.sh counts its sessions
	lock   string
	// variants are the ways of sending the binary measured side by side;
	// variant is the one the next run uses.
	variants []benchVariant
	variant  benchVariant
}

func newBench(t *testing.T, l *lab.Lab, hosts []lab.Host, runs int) *bench {
	dir := t.TempDir()
	b := &bench{t: t, lab: l, hosts: hosts, runs: runs, dir: dir,
		floor: filepath.Join(dir, "floor-bin"), stats: filepath.Join(dir, "stats"), lock: os.Getenv("OPENIM_BENCH_LOCK"),
		variants: benchVariants()}
	wd, err := os.Getwd()
	require.NoError(t, err)
	b.script = filepath.Join(wd, "bench", "floor.sh")
	for _, d := range []string{"bin", "config", "stats"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	bin, err := os.ReadFile(standinPath)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bin", "benchsvc"), bin, 0o755))
	require.NoError(t, os.WriteFile(b.floor, bin, 0o755))
	writeBenchFleet(t, l, hosts, dir, "benchsvc", benchPort)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "playbook.hcl"),
		[]byte(benchPlaybook(benchApp, "svc", `"bin/benchsvc"`, benchPort)), 0o644))
	t.Cleanup(func() { b.locked(b.uninstall) })
	return b
}

// benchDriver is the start of every make bench driver: it skips unless
// OPENIM_BENCH=1, requires the lab, and returns its systemd hosts and the
// run count (OPENIM_BENCH_RUNS, else runs).
func benchDriver(t *testing.T, runs int) (*lab.Lab, []lab.Host, int) {
	if os.Getenv("OPENIM_BENCH") != "1" {
		t.Skip("a benchmark driver: set OPENIM_BENCH=1 (make bench)")
	}
	l := lab.Require(t)
	if v, err := strconv.Atoi(os.Getenv("OPENIM_BENCH_RUNS")); err == nil && v > 0 {
		runs = v
	}
	var hosts []lab.Host
	for _, h := range l.Hosts {
		if h.Systemd {
			hosts = append(hosts, h)
		}
	}
	return l, hosts, runs
}

// writeBenchFleet writes, in dir, the stand-in's config for binary (two
// instances, on port and port+1) and an inventory of hosts in group app.
func writeBenchFleet(t *testing.T, l *lab.Lab, hosts []lab.Host, dir, binary string, port int) {
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "config"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config", "standin.json"),
		fmt.Appendf(nil, `{%q: {"ports": [%d, %d]}}`+"\n", binary, port, port+1), 0o644))
	var inv strings.Builder
	fmt.Fprintf(&inv, "defaults {\n  user = \"root\"\n  identity = %q\n  known_hosts = %q\n}\n", l.KeyPath, l.KnownHostsPath)
	for _, h := range hosts {
		fmt.Fprintf(&inv, "host %q {\n  address = %q\n  groups = [\"app\"]\n}\n", h.Name, h.Address)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "inventory.hcl"), []byte(inv.String()), 0o644))
}

// benchPlaybook is the benchmarks' job: service, from binary (an HCL
// expression), 2 instances on every host, each answering /healthz on
// port+index, all restarted at once. The floor restarts every instance at
// once; so does this rollout (the default, one instance at a time across
// the fleet behind its gate, is a different job: 12 gated restarts in a
// row).
func benchPlaybook(app, service, binary string, port int) string {
	return fmt.Sprintf(`
app %[1]q {
  root = "/opt/%[1]s"
}
rollout {
  batch = "100%%"
}
files "config" {
  source = "config"
  hosts  = ["app"]
}
service %[2]q {
  binary    = %[3]s
  args      = ["-i", "%%i", "-c", "config"]
  hosts     = ["app"]
  instances = 2
  health {
    http   = "http://127.0.0.1:${%[4]d + instance.index}/healthz"
    stable = "100ms"
  }
}
`, app, service, binary, port)
}

// locked runs fn holding the lab lock, when one is named.
func (b *bench) locked(fn func()) {
	if b.lock == "" {
		fn()
		return
	}
	f, err := os.OpenFile(b.lock, os.O_RDWR|os.O_CREATE, 0o666)
	require.NoError(b.t, err)
	defer f.Close()
	require.NoError(b.t, syscall.Flock(int(f.Fd()), syscall.LOCK_EX))
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	fn()
}

// measure is one timed run of one tool: wall time and per-host averages.
type measure struct {
	wall                  time.Duration
	bytes, conns, session float64
}

// benchScenario is one row: prep (untimed, every run) then the timed step.
type benchScenario struct {
	name string
	// sends: the timed step sends the binary, so each benchVariant is
	// measured; the other scenarios send no file and run once.
	sends  bool
	setup  func(b *bench)         // once, before the runs
	prep   func(b *bench)         // before each run, untimed
	deploy func(b *bench) measure // timed
	floor  func(b *bench) measure // timed
}

var benchScenarios = []benchScenario{
	{
		name:   "cold apply",
		sends:  true,
		prep:   func(b *bench) { b.uninstall() },
		deploy: func(b *bench) measure { return b.deployRun("apply") },
		floor:  func(b *bench) measure { return b.floorRun("apply") },
	},
	{
		name:   "no-op apply",
		setup:  func(b *bench) { b.deployRun("apply"); b.floorRun("apply") },
		deploy: func(b *bench) measure { return b.deployRun("apply") },
		floor:  func(b *bench) measure { return b.floorRun("apply") },
	},
	{
		name:   "upgrade (new binary)",
		sends:  true,
		setup:  func(b *bench) { b.deployRun("apply"); b.floorRun("apply") },
		prep:   func(b *bench) { b.changeBinaries() },
		deploy: func(b *bench) measure { return b.deployRun("apply") },
		floor:  func(b *bench) measure { return b.floorRun("apply") },
	},
	{
		// 12 instances, 4 at a time (2 hosts' worth) in both tools: three batches.
		name:   "rolling restart (batch 2 hosts)",
		setup:  func(b *bench) { b.deployRun("apply"); b.floorRun("apply") },
		deploy: func(b *bench) measure { return b.deployRun("restart", "--batch", "4", "--canary", "0", "--pause", "0") },
		floor:  func(b *bench) measure { return b.floorRun("-b", "2", "restart") },
	},
}

// benchRow is a scenario's medians.
type benchRow struct {
	name          string
	deploy, floor measure
}

// scenario runs sc b.runs times, every variant in each run when sc sends
// the binary, and returns one row per variant. The lab lock (and the
// shaping, on the shaped link) is held for the whole scenario, not for the
// whole table: others waiting on a shared lab get their turn between
// scenarios, and the scenario's runs are not spread over a queue whose
// other users change the load on the hosts between them.
func (b *bench) scenario(sc benchScenario, link string) []benchRow {
	var rows []benchRow
	b.locked(func() {
		if link == "shaped" {
			b.shape()
			defer b.unshape()
		}
		rows = b.scenarioLocked(sc, link)
	})
	return rows
}

func (b *bench) scenarioLocked(sc benchScenario, link string) []benchRow {
	variants := b.variants
	if !sc.sends {
		variants = variants[:1]
	}
	ds, fs := make([][]measure, len(variants)), make([][]measure, len(variants))
	b.variant = variants[0]
	if sc.setup != nil {
		sc.setup(b)
	}
	for range b.runs {
		for i, v := range variants {
			b.variant = v
			if sc.prep != nil {
				sc.prep(b)
			}
			ds[i] = append(ds[i], sc.deploy(b))
			if sc.name == "cold apply" {
				sc.prep(b)
			}
			fs[i] = append(fs[i], sc.floor(b))
		}
	}
	var rows []benchRow
	for i, v := range variants {
		name := sc.name
		if sc.sends && len(variants) > 1 {
			name += ", " + v.String()
		}
		row := benchRow{name: name, deploy: median(ds[i]), floor: median(fs[i])}
		fmt.Printf("%s, %s: %s\n", link, name, row)
		rows = append(rows, row)
	}
	return rows
}

func (r benchRow) String() string {
	return fmt.Sprintf("| %s | %.2f s | %.2f s | %.2fx | %.2f / %.2f | %.0f / %.0f | %.1f / %.1f |",
		r.name, r.deploy.wall.Seconds(), r.floor.wall.Seconds(), r.deploy.wall.Seconds()/r.floor.wall.Seconds(),
		r.deploy.bytes/1e6, r.floor.bytes/1e6, r.deploy.conns, r.floor.conns, r.deploy.session, r.floor.session)
}

// median takes each figure's median on its own.
func median(ms []measure) measure {
	pick := func(f func(measure) float64) float64 {
		v := make([]float64, len(ms))
		for i, m := range ms {
			v[i] = f(m)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	return measure{
		wall:    time.Duration(pick(func(m measure) float64 { return float64(m.wall) })),
		bytes:   pick(func(m measure) float64 { return m.bytes }),
		conns:   pick(func(m measure) float64 { return m.conns }),
		session: pick(func(m measure) float64 { return m.session }),
	}
}

// txBytes sums what the controller sent into every host's veth.
func (b *bench) txBytes() int64 {
	var n int64
	for _, h := range b.hosts {
		raw, err := os.ReadFile("/sys/class/net/" + h.Veth + "/statistics/tx_bytes")
		require.NoError(b.t, err)
		v, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
		require.NoError(b.t, err)
		n += v
	}
	return n
}

// deployRun runs openim-deploy in-process and counts its connections.
func (b *bench) deployRun(args ...string) measure {
	full := append([]string{args[0], "-i", filepath.Join(b.dir, "inventory.hcl"), "-p", filepath.Join(b.dir, "playbook.hcl"), "--ssh-config", "none"}, args[1:]...)
	if args[0] == "apply" && b.variant.compress != "" {
		full = append(full, "--compress", b.variant.compress)
	}
	var out bytes.Buffer
	var c remote.Counters
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tx := b.txBytes()
	start := time.Now()
	code := cli.Run(ctx, full, cli.IO{In: strings.NewReader(""), Out: &out, Err: &out, Environ: os.Environ(), Counters: &c})
	wall := time.Since(start)
	sent := b.txBytes() - tx
	if code != cli.ExitOK && code != 2 {
		b.t.Fatalf("openim-deploy %s -> %d\n%s", strings.Join(full, " "), code, out.String())
	}
	m := measure{wall: wall, bytes: float64(sent) / float64(len(b.hosts))}
	for _, n := range c.Names() {
		h := c.Host(n)
		m.conns += float64(h.Connections.Load()) / float64(len(b.hosts))
		m.session += float64(h.Sessions.Load()) / float64(len(b.hosts))
	}
	return m
}

// floorRun runs floor.sh on every host.
func (b *bench) floorRun(args ...string) measure {
	require.NoError(b.t, os.RemoveAll(b.stats))
	require.NoError(b.t, os.MkdirAll(b.stats, 0o755))
	n := len(args)
	full := append(args[:n-1:n-1], args[n-1], benchFloorApp, strconv.Itoa(benchFloorPort), b.floor, b.lab.KeyPath, b.lab.KnownHostsPath, b.stats)
	if b.variant.floorGzip {
		full = append([]string{"-z"}, full...)
	}
	for _, h := range b.hosts {
		full = append(full, h.Address)
	}
	tx := b.txBytes()
	start := time.Now()
	out, err := exec.Command("bash", append([]string{b.script}, full...)...).CombinedOutput()
	wall := time.Since(start)
	sent := b.txBytes() - tx
	require.NoError(b.t, err, "floor.sh %s\n%s", strings.Join(full, " "), out)
	m := measure{wall: wall, bytes: float64(sent) / float64(len(b.hosts)), conns: 1}
	files, err := os.ReadDir(b.stats)
	require.NoError(b.t, err)
	for _, f := range files {
		raw, err := os.ReadFile(filepath.Join(b.stats, f.Name()))
		require.NoError(b.t, err)
		m.session += float64(bytes.Count(raw, []byte("\n"))) / float64(len(b.hosts))
	}
	return m
}

// changeBinaries gives both copies of the binary a new hash.
func (b *bench) changeBinaries() {
	for _, p := range []string{filepath.Join(b.dir, "bin", "benchsvc"), b.floor} {
		f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
		require.NoError(b.t, err)
		_, err = fmt.Fprintf(f, "\x00changed %d", time.Now().UnixNano())
		require.NoError(b.t, err)
		require.NoError(b.t, f.Close())
	}
}

// uninstall removes both apps from every host.
func (b *bench) uninstall() {
	d := &deploy{t: b.t, lab: b.lab, app: benchApp}
	for _, h := range b.hosts {
		d.hosts = append(d.hosts, h.Name)
	}
	d.uninstall()
	script := `app=$1
systemctl disable --now "$app.target" "$app-svc@0.service" "$app-svc@1.service" >/dev/null 2>&1
rm -f "/etc/systemd/system/$app-svc@.service" "/etc/systemd/system/$app.target"
systemctl daemon-reload; systemctl reset-failed 2>/dev/null
rm -rf "/opt/$app"; true`
	for _, h := range b.hosts {
		if out, err := b.lab.Exec(b.t, h.Name, "sh", "-c", script, "sh", benchFloorApp); err != nil {
			b.t.Logf("uninstall %s on %s: %v\n%s", benchFloorApp, h.Name, err, out)
		}
	}
}

// shape puts netem on both ends of every host's veth: 10 ms each way
// (20 ms RTT) at 100 Mbit/s.
func (b *bench) shape() {
	qdisc := []string{"netem", "delay", "10ms", "rate", "100mbit"}
	if !b.hasNetem() {
		// This kernel has no netem (sch_netem): limit the rate alone with
		// tbf, on both ends as with netem. The round trip stays the lab's.
		qdisc = []string{"tbf", "rate", "100mbit", "burst", "64kb", "latency", "50ms"}
	}
	for _, h := range b.hosts {
		for _, argv := range [][]string{
			append([]string{"tc", "qdisc", "replace", "dev", h.Veth, "root"}, qdisc...),
			append([]string{"ip", "netns", "exec", h.Netns, "tc", "qdisc", "replace", "dev", "eth0", "root"}, qdisc...),
		} {
			out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
			require.NoError(b.t, err, "%s\n%s", strings.Join(argv, " "), out)
		}
	}
}

// hasNetem reports whether the kernel can add netem on the first host's
// veth (tried and removed at once).
func (b *bench) hasNetem() bool {
	veth := b.hosts[0].Veth
	if exec.Command("tc", "qdisc", "replace", "dev", veth, "root", "netem", "delay", "1ms").Run() != nil {
		return false
	}
	_ = exec.Command("tc", "qdisc", "del", "dev", veth, "root").Run()
	return true
}

// unshape removes what shape added; deleting a missing qdisc is harmless.
func (b *bench) unshape() {
	for _, h := range b.hosts {
		_ = exec.Command("tc", "qdisc", "del", "dev", h.Veth, "root").Run()
		_ = exec.Command("ip", "netns", "exec", h.Netns, "tc", "qdisc", "del", "dev", "eth0", "root").Run()
	}
}

func printBenchTable(link string, rows []benchRow) {
	fmt.Printf("\n%s link\n", link)
	fmt.Println("| scenario | openim-deploy | floor | ratio | MB sent/host (deploy / floor) | SSH conns/host | sessions/host (deploy / floor) |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Println(r)
	}
}
