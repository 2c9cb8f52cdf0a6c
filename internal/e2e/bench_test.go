package e2e

import (
	"testing"

	"github.com/openimsdk/openim-deploy/internal/cli"
	"github.com/openimsdk/openim-deploy/internal/lab"
)

// BenchmarkApplyNoChange measures the idempotent path on real hosts: a
// second apply of a converged 3-host deployment (connect, pre-flight, lock,
// gather, plan, unlock). Run with make bench.
func BenchmarkApplyNoChange(b *testing.B) {
	l := lab.Require(b)
	d := newBenchDeploy(b, l)
	if res := d.run("apply"); res.Code != cli.ExitOK {
		b.Fatalf("cold apply failed:\n%s", res.Out)
	}
	b.ResetTimer()
	for b.Loop() {
		if res := d.run("apply"); res.Code != cli.ExitOK {
			b.Fatalf("apply failed:\n%s", res.Out)
		}
	}
}

// BenchmarkApplyOneBinary measures a rollout of one changed binary to 3
// hosts: one file sent per host, a new release, one restart per host and its
// health gate (stable 2 s), which dominates.
func BenchmarkApplyOneBinary(b *testing.B) {
	l := lab.Require(b)
	d := newBenchDeploy(b, l)
	if res := d.run("apply"); res.Code != cli.ExitOK {
		b.Fatalf("cold apply failed:\n%s", res.Out)
	}
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		d.appendBin("openim-crontask")
		b.StartTimer()
		if res := d.run("apply"); res.Code != cli.ExitOK {
			b.Fatalf("apply failed:\n%s", res.Out)
		}
	}
}

func newBenchDeploy(b *testing.B, l *lab.Lab) *deploy {
	return newDeploy(b, l, "e2ebench", 20700, "lab-1", "lab-2", "lab-3")
}
