package sim

import (
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openimsdk/openim-deploy/internal/cli"
)

// scaleSizes are the fleet sizes of the scale table (README, Benchmarks).
var scaleSizes = []int{50, 100, 200, 500}

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
	done := make(chan struct{})
	var wg sync.WaitGroup
	take := func() {
		m := readMem()
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
