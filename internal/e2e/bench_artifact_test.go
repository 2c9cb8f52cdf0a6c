package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/openimsdk/openim-deploy/internal/cli"
	"github.com/openimsdk/openim-deploy/internal/lab"
)

// The artifact bench's app and ports.
const (
	benchArtifactApp  = "bench30"
	benchArtifactPort = 21230
	// benchArtifactSize is the binary's size: the stand-in padded with
	// random bytes (which no compression shrinks), as large as a bundle of
	// OpenIM's biggest binaries.
	benchArtifactSize = 30 << 20
	// benchUplink is the controller's shaped uplink.
	benchUplink = "50mbit"
)

// TestBenchArtifact is make bench's driver for the fleet-scale question of
// where a release's bytes come from, not a test: it runs only with
// OPENIM_BENCH=1 and asserts nothing about time. With the controller's
// uplink limited to 50 Mbit/s (tbf on the lab bridge, the controller's side
// only: traffic between lab hosts is not limited), it upgrades a 30 MB
// binary on every systemd lab host, pushed from the controller and pulled
// by every host from an HTTP store on the last lab host (a server in this
// process, listening in that host's network namespace), OPENIM_BENCH_RUNS
// times each (default 3), interleaved, and prints the median wall time and
// the bytes the controller sent.
func TestBenchArtifact(t *testing.T) {
	l, hosts, runs := benchDriver(t, 3)
	require.NotEmpty(t, l.Bridge, "lab.json names the bridge")
	ab := &artifactBench{t: t, lab: l, hosts: hosts, dir: t.TempDir(), files: map[string][]byte{}}
	lockBench(t, func() {
		for _, h := range hosts {
			installFetcher(t, l, h.Name, "curl")
		}
	})
	ab.store = ab.serveFrom(hosts[len(hosts)-1])
	ab.setup()
	t.Cleanup(func() { lockBench(t, ab.uninstall) })

	var pushed, pulled []measure
	lockBench(t, func() {
		ab.apply(ab.nextBinary(false)) // the release every run upgrades from
		ab.shape()
		defer ab.unshape()
		for range runs {
			pushed = append(pushed, ab.apply(ab.nextBinary(false)))
			pulled = append(pulled, ab.apply(ab.nextBinary(true)))
		}
	})
	host, _ := os.Hostname()
	fmt.Printf("\nupgrade of a %d MB binary on %d hosts, controller uplink %s (tbf), medians of %d runs, on %s (%s/%s, %d CPUs)\n",
		benchArtifactSize>>20, len(hosts), benchUplink, runs, host, runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	fmt.Println("| binary from | wall | MB the controller sent (all hosts) |")
	fmt.Println("|---|---|---|")
	for _, row := range []struct {
		name string
		m    measure
	}{{"pushed by the controller", median(pushed)}, {"pulled by each host (store on " + hosts[len(hosts)-1].Name + ")", median(pulled)}} {
		fmt.Printf("| %s | %.2f s | %.1f |\n", row.name, row.m.wall.Seconds(), row.m.bytes/1e6)
	}
}

// lockBench runs fn holding OPENIM_BENCH_LOCK when it is set.
func lockBench(t *testing.T, fn func()) {
	(&bench{t: t, lock: os.Getenv("OPENIM_BENCH_LOCK")}).locked(fn)
}

type artifactBench struct {
	t     *testing.T
	lab   *lab.Lab
	hosts []lab.Host
	dir   string
	store string // the store's base URL

	mu    sync.Mutex
	files map[string][]byte
	n     int
}

// serveFrom starts an HTTP store listening in h's network namespace: the
// socket is made on a thread switched into that namespace, and stays
// there once the thread is switched back, so the hosts' downloads cross
// the bridge between lab hosts, never the controller's uplink.
func (ab *artifactBench) serveFrom(h lab.Host) string {
	t := ab.t
	ln, err := listenInNetns(h.Netns, net.JoinHostPort(h.Address, "0"))
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ab.mu.Lock()
		b, ok := ab.files[strings.TrimPrefix(r.URL.Path, "/")]
		ab.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

func listenInNetns(netns, addr string) (net.Listener, error) {
	type result struct {
		ln  net.Listener
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// The thread is never unlocked: if switching back failed, it
		// must not run other goroutines; the runtime then ends it.
		runtime.LockOSThread()
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer self.Close()
		target, err := os.Open("/run/netns/" + netns)
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{err: fmt.Errorf("setns %s: %w", netns, err)}
			return
		}
		ln, lerr := net.Listen("tcp", addr)
		if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
			if ln != nil {
				_ = ln.Close()
			}
			ch <- result{err: fmt.Errorf("setns back: %w", err)}
			return
		}
		runtime.UnlockOSThread()
		ch <- result{ln: ln, err: lerr}
	}()
	r := <-ch
	return r.ln, r.err
}

func (ab *artifactBench) setup() {
	require.NoError(ab.t, os.MkdirAll(filepath.Join(ab.dir, "bin"), 0o755))
	writeBenchFleet(ab.t, ab.lab, ab.hosts, ab.dir, "bigsvc", benchArtifactPort)
}

// nextBinary makes a new 30 MB binary (the stand-in, padded) and returns
// the playbook's binary expression for it: a local path, or an artifact
// in the store.
func (ab *artifactBench) nextBinary(pulled bool) string {
	t := ab.t
	bin, err := os.ReadFile(standinPath)
	require.NoError(t, err)
	pad := make([]byte, benchArtifactSize-len(bin))
	_, _ = rand.Read(pad)
	bin = append(bin, pad...)
	ab.n++
	if !pulled {
		require.NoError(t, os.WriteFile(filepath.Join(ab.dir, "bin", "bigsvc"), bin, 0o755))
		return `"bin/bigsvc"`
	}
	name := fmt.Sprintf("%d/bigsvc", ab.n)
	ab.mu.Lock()
	ab.files[name] = bin
	ab.mu.Unlock()
	return artifactExpr(ab.store+"/"+name, hex.EncodeToString(sha256Sum(bin)), "")
}

// apply writes the playbook with binary and applies it, timed, counting
// the bytes the controller sent onto the lab bridge.
func (ab *artifactBench) apply(binary string) measure {
	t := ab.t
	pb := benchPlaybook(benchArtifactApp, "bigsvc", binary, benchArtifactPort)
	require.NoError(t, os.WriteFile(filepath.Join(ab.dir, "playbook.hcl"), []byte(pb), 0o644))
	args := []string{"apply", "-i", filepath.Join(ab.dir, "inventory.hcl"), "-p", filepath.Join(ab.dir, "playbook.hcl"), "--ssh-config", "none"}
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	tx := ab.bridgeTx()
	start := time.Now()
	code := cli.Run(ctx, args, cli.IO{In: strings.NewReader(""), Out: &out, Err: &out, Environ: os.Environ()})
	wall := time.Since(start)
	sent := ab.bridgeTx() - tx
	require.Equal(t, cli.ExitOK, code, "openim-deploy %s\n%s", strings.Join(args, " "), out.String())
	return measure{wall: wall, bytes: float64(sent)}
}

// bridgeTx is what the controller has sent onto the lab bridge.
func (ab *artifactBench) bridgeTx() int64 {
	raw, err := os.ReadFile("/sys/class/net/" + ab.lab.Bridge + "/statistics/tx_bytes")
	require.NoError(ab.t, err)
	v, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
	require.NoError(ab.t, err)
	return v
}

// shape limits the controller's side of the bridge: the bridge device's
// own egress is what the controller sends to the hosts; frames forwarded
// between hosts' veths do not pass it.
func (ab *artifactBench) shape() {
	argv := []string{"tc", "qdisc", "replace", "dev", ab.lab.Bridge, "root", "tbf", "rate", benchUplink, "burst", "64kb", "latency", "50ms"}
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	require.NoError(ab.t, err, "%s\n%s", strings.Join(argv, " "), out)
}

func (ab *artifactBench) unshape() {
	_ = exec.Command("tc", "qdisc", "del", "dev", ab.lab.Bridge, "root").Run()
}

func (ab *artifactBench) uninstall() {
	d := &deploy{t: ab.t, lab: ab.lab, app: benchArtifactApp}
	for _, h := range ab.hosts {
		d.hosts = append(d.hosts, h.Name)
	}
	d.uninstall()
}
