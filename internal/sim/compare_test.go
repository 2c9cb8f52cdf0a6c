package sim

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openimsdk/openim-deploy/internal/cli"
)

// TestCompareControllers runs two or more controller binaries in turn
// against one simulated fleet and reports each one's median wall time,
// controller CPU, the simulated hosts' CPU and peak RSS, and every
// binary's paired ratio against the first. It is a tool, skipped unless
// OPENIM_SCALE_COMPARE names the binaries:
//
//	OPENIM_SCALE_COMPARE=/tmp/old:/tmp/new go test -run TestCompareControllers -v ./internal/sim/
//
// This machine's speed drifts by a third from one minute to the next, so
// two benchmark runs minutes apart cannot tell a 5% change from the
// drift; runs of each binary taken one after the other, compared pair by
// pair, can. OPENIM_SCALE_ROUNDS (default 8) sets the pairs,
// OPENIM_SCALE_HOSTS (default 1000) the fleet, OPENIM_SCALE_COMMAND
// (default plan) the command: plan or apply, both no-ops.
func TestCompareControllers(t *testing.T) {
	bins := strings.Split(os.Getenv("OPENIM_SCALE_COMPARE"), ":")
	if len(bins) < 2 {
		t.Skip("OPENIM_SCALE_COMPARE=old:new[:...] compares controller binaries")
	}
	rounds := envInt(t, "OPENIM_SCALE_ROUNDS", 8)
	hosts := envInt(t, "OPENIM_SCALE_HOSTS", 1000)
	f := NewOpenIMFleet(t, hosts)
	var args []string
	apply := false
	switch c := os.Getenv("OPENIM_SCALE_COMMAND"); c {
	case "", "plan":
		args = f.Args("plan", "--detailed-exitcode")
	case "apply":
		args, apply = f.Args("apply"), true
	default:
		t.Fatalf("OPENIM_SCALE_COMMAND=%q: plan or apply", c)
	}
	env := append(os.Environ(), "HOME="+f.Dir, "XDG_STATE_HOME="+filepath.Join(f.Dir, "state"))

	type sample struct {
		wall, cpu, sim time.Duration
		rss            int64
	}
	runs := make([][]sample, len(bins))
	for round := range rounds + 1 { // the first round warms the fleet up
		for i, bin := range bins {
			sim := cpuTime()
			start := time.Now()
			r, err := runProcess(t.Context(), bin, args, env)
			s := sample{wall: time.Since(start), cpu: r.cpu, sim: cpuTime() - sim, rss: r.maxRSS}
			if err != nil {
				t.Fatalf("%s: %v", bin, err)
			}
			if r.code != cli.ExitOK {
				t.Fatalf("%s: exit %d, want 0 (no changes)\n%s", bin, r.code, tail(r.out, 20))
			}
			if apply {
				if err := CheckNoop(f, r.out); err != nil {
					t.Fatalf("%s: %v", bin, err)
				}
			}
			if round > 0 {
				runs[i] = append(runs[i], s)
			}
		}
	}

	median := func(i int, of func(sample) time.Duration) time.Duration {
		var d []time.Duration
		for _, s := range runs[i] {
			d = append(d, of(s))
		}
		slices.Sort(d)
		return d[len(d)/2]
	}
	wall := func(s sample) time.Duration { return s.wall }
	total := func(s sample) time.Duration { return s.cpu + s.sim }
	for i, bin := range bins {
		var rss int64
		for _, s := range runs[i] {
			rss = max(rss, s.rss)
		}
		t.Logf("%s: wall %v, controller CPU %v, simulated hosts' CPU %v, peak RSS %d MB (medians of %d)",
			bin, median(i, wall).Round(time.Millisecond), median(i, func(s sample) time.Duration { return s.cpu }).Round(time.Millisecond),
			median(i, func(s sample) time.Duration { return s.sim }).Round(time.Millisecond), rss>>20, rounds)
	}
	ratios := func(i int, of func(sample) time.Duration) string {
		var r []float64
		for k := range runs[i] {
			r = append(r, float64(of(runs[i][k]))/float64(of(runs[0][k])))
		}
		slices.Sort(r)
		return fmt.Sprintf("%.3f (%.3f to %.3f)", r[len(r)/2], r[0], r[len(r)-1])
	}
	for i := 1; i < len(bins); i++ {
		t.Logf("%s against %s, pair by pair: wall %s, CPU of both sides %s", bins[i], bins[0], ratios(i, wall), ratios(i, total))
	}
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}
