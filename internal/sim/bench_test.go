package sim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openimsdk/openim-deploy/internal/cli"
)

// scaleSizes are the fleet sizes of the scale table (docs/benchmarks.md).
var scaleSizes = []int{50, 100, 200, 500, 1000}

// BenchmarkScaleNoopApply runs the real `apply` (connect, pre-flight, lock
// with gather, plan, skipped apply phases, unlock, recap) against a fleet
// of converged simulated hosts with the OpenIM playbook, and fails unless
// every host reports ok with nothing changed. peak-heap-MB is the most
// heap in use at once during a run (sampled), peak-total-MB the most
// memory the Go runtime held from the OS; both include the simulated
// hosts' own SSH servers, which share the process (idle-heap-MB is their
// heap before the run).
func BenchmarkScaleNoopApply(b *testing.B) {
	for _, n := range scaleSizes {
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
			f := NewOpenIMFleet(b, n)
			benchCommand(b, f, f.Args("apply"), func(code int, out string) error {
				if code != cli.ExitOK {
					return fmt.Errorf("exit %d", code)
				}
				return CheckNoop(f, out)
			})
		})
	}
}

// BenchmarkScalePlan runs the real `plan --detailed-exitcode` against the
// same fleets; it must exit 0 (no changes).
func BenchmarkScalePlan(b *testing.B) {
	for _, n := range scaleSizes {
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
			f := NewOpenIMFleet(b, n)
			benchCommand(b, f, f.Args("plan", "--detailed-exitcode"), func(code int, out string) error {
				if code != cli.ExitOK {
					return fmt.Errorf("exit %d, want 0 (no changes)", code)
				}
				if u := f.Unknown(); len(u) > 0 {
					return fmt.Errorf("commands the simulation does not answer: %v", u)
				}
				return nil
			})
		})
	}
}

func benchCommand(b *testing.B, f *Fleet, args []string, check func(code int, out string) error) {
	if p := os.Getenv("OPENIM_SCALE_PARALLEL"); p != "" {
		args = append(args, "--parallel", p) // to find what bounds a run; the table uses the default
	}
	b.ReportAllocs()
	runtime.GC()
	idle := readMem()
	var peak memSample
	var cpu time.Duration
	b.ResetTimer()
	for b.Loop() {
		stop := sampleMem(&peak)
		before := cpuTime()
		code, out := run(b.Context(), f, args...)
		cpu += cpuTime() - before
		stop()
		if err := check(code, out); err != nil {
			b.Fatalf("%v\n%s", err, tail(out, 40))
		}
	}
	// CPU time (user+system, this process: controller and simulated
	// hosts) is what a shared machine's load disturbs least.
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(peak.heap)/1e6, "peak-heap-MB")
	b.ReportMetric(float64(peak.total)/1e6, "peak-total-MB")
	b.ReportMetric(float64(idle.heap)/1e6, "idle-heap-MB")
}

// cpuTime is the CPU time this process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type memSample struct{ heap, total uint64 }

var memMetrics = []string{"/memory/classes/heap/objects:bytes", "/memory/classes/total:bytes"}

func readMem() memSample {
	s := make([]metrics.Sample, len(memMetrics))
	for i, name := range memMetrics {
		s[i].Name = name
	}
	metrics.Read(s)
	return memSample{heap: s[0].Value.Uint64(), total: s[1].Value.Uint64()}
}

// sampleMem records into peak the highest heap and total seen every
// 5 ms until the returned stop is called (which takes a last sample).
func sampleMem(peak *memSample) (stop func()) {
	return sampleMemTo(peak, os.Getenv("OPENIM_SCALE_HEAPPROFILE"))
}

// sampleMemTo is sampleMem writing a heap profile to profile ("": none)
// at each new peak.
func sampleMemTo(peak *memSample, profile string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	take := func() {
		m := readMem()
		if profile != "" && m.heap > peak.heap {
			writeHeapProfile(profile) // what is live at the (new) peak, for diagnosis
		}
		peak.heap, peak.total = max(peak.heap, m.heap), max(peak.total, m.total)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				take()
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		take()
	}
}

func writeHeapProfile(path string) {
	f, err := os.Create(path)
	if err != nil {
		return
	}
	defer f.Close()
	_ = pprof.WriteHeapProfile(f)
}

func tail(s string, lines int) string {
	n := 0
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '\n' {
			n++
			if n > lines {
				return s[i+1:]
			}
		}
	}
	return s
}

// BenchmarkScaleExecNoopApply is BenchmarkScaleNoopApply with the
// controller as its own process (the openim-deploy binary, built once), so
// its figures are the controller's alone: controller-cpu-ms/op is its CPU
// time, controller-maxrss-MB its peak resident memory. The simulated
// hosts stay in the benchmark process and still share the machine's cores.
func BenchmarkScaleExecNoopApply(b *testing.B) {
	bin := controllerBinary(b)
	for _, n := range scaleSizes {
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
			f := NewOpenIMFleet(b, n)
			benchExec(b, bin, f, f.Args("apply"), func(code int, out string) error {
				if code != cli.ExitOK {
					return fmt.Errorf("exit %d", code)
				}
				return CheckNoop(f, out)
			})
		})
	}
}

// BenchmarkScaleExecPlan is BenchmarkScalePlan with the controller as its
// own process (see BenchmarkScaleExecNoopApply).
func BenchmarkScaleExecPlan(b *testing.B) {
	bin := controllerBinary(b)
	for _, n := range scaleSizes {
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
			f := NewOpenIMFleet(b, n)
			benchExec(b, bin, f, f.Args("plan", "--detailed-exitcode"), func(code int, out string) error {
				if code != cli.ExitOK {
					return fmt.Errorf("exit %d, want 0 (no changes)", code)
				}
				if u := f.Unknown(); len(u) > 0 {
					return fmt.Errorf("commands the simulation does not answer: %v", u)
				}
				return nil
			})
		})
	}
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// controllerBinary builds cmd/openim-deploy once per test process.
func controllerBinary(b *testing.B) string {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "openim-scale-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "openim-deploy")
		cmd := exec.Command("go", "build", "-o", builtBin, "./cmd/openim-deploy")
		cmd.Dir = repoRoot(b)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		b.Fatal(buildErr)
	}
	return builtBin
}

func benchExec(b *testing.B, bin string, f *Fleet, args []string, check func(code int, out string) error) {
	if p := os.Getenv("OPENIM_SCALE_PARALLEL"); p != "" {
		args = append(args, "--parallel", p)
	}
	env := append(os.Environ(), "HOME="+f.Dir, "XDG_STATE_HOME="+filepath.Join(f.Dir, "state"))
	if p := os.Getenv("OPENIM_SCALE_CPUPROFILE"); p != "" {
		// Profile the controller: this test binary runs as cli.Main and
		// writes the profile of the last run to p (see TestMain).
		bin, env = os.Args[0], append(env, controllerEnv+"="+p)
	}
	var cpu time.Duration
	var maxRSS int64
	var walls []time.Duration
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		r, err := runProcess(b.Context(), bin, args, env)
		walls = append(walls, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		if err := check(r.code, r.out); err != nil {
			b.Fatalf("%v\n%s", err, tail(r.out, 40))
		}
		cpu += r.cpu
		maxRSS = max(maxRSS, r.maxRSS)
	}
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "controller-cpu-ms/op")
	b.ReportMetric(float64(maxRSS)/(1<<20), "controller-maxrss-MB")
	// This machine's speed drifts from one minute to the next: the median
	// and the fastest of the runs say more than their mean (ns/op).
	slices.Sort(walls)
	b.ReportMetric(float64(walls[len(walls)/2].Milliseconds()), "median-wall-ms")
	b.ReportMetric(float64(walls[0].Milliseconds()), "min-wall-ms")
}

type processResult struct {
	code   int
	out    string
	cpu    time.Duration
	maxRSS int64 // bytes
}

// runProcess runs bin and returns its exit code, output, CPU time and
// peak resident memory. The peak is the process's own VmHWM, polled from
// /proc while it runs: the rusage of a child forked from this (large)
// benchmark process counts the parent's memory too.
func runProcess(ctx context.Context, bin string, args, env []string) (processResult, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	var r processResult
	if err := cmd.Start(); err != nil {
		return r, err
	}
	done := make(chan struct{})
	polled := make(chan int64)
	go func() { polled <- pollHWM(cmd.Process.Pid, done) }()
	err := cmd.Wait()
	close(done)
	r.maxRSS = <-polled
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		return r, err
	}
	r.out = out.String()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return r, nil
}

// pollHWM returns the highest VmHWM (peak resident set, bytes) read for
// pid every 20 ms until done is closed. VmHWM is the kernel's own
// high-water mark, so a poll misses only a peak in the run's last 20 ms;
// polling every 2 ms took a twentieth of a core from the simulated hosts.
func pollHWM(pid int, done <-chan struct{}) int64 {
	path := fmt.Sprintf("/proc/%d/status", pid)
	var peak int64
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if b, err := os.ReadFile(path); err == nil {
			if _, rest, ok := bytes.Cut(b, []byte("VmHWM:")); ok {
				line, _, _ := bytes.Cut(rest, []byte("\n"))
				var kb int64
				if _, err := fmt.Sscanf(string(bytes.TrimSpace(line)), "%d kB", &kb); err == nil {
					peak = max(peak, kb<<10)
				}
			}
		}
		select {
		case <-done:
			return peak
		case <-t.C:
		}
	}
}
