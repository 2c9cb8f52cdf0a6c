package phase

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/ledger"
	"github.com/openimsdk/openim-deploy/internal/plan"
	"github.com/openimsdk/openim-deploy/internal/ui"
)

// The restart, start and rollback plans print as apply's do: these
// goldens pin what an operator reads before a restart, a start or a
// rollback changes anything.

const oldRelease = "20261201T101500.000Z-aaaa"

// runningPlan builds every host's plan with fn from a host that runs
// printDesired on oldRelease, after adjust changed it.
func runningPlan(fn func(d plan.Desired, a plan.Actual) *plan.HostPlan, adjust func(a *plan.Actual)) *plan.Plan {
	p := &plan.Plan{}
	for _, h := range []string{"lab-1", "lab-2", "lab-3"} {
		d := printDesired(h)
		full := d
		full.Artifacts = nil // actualOf leaves openim-api out when it has its binary
		a := actualOf(full, oldRelease)
		if adjust != nil {
			adjust(&a)
		}
		p.Hosts = append(p.Hosts, fn(d, a))
	}
	return p
}

func pick(names ...string) plan.Selected {
	return func(u plan.UnitRef, name string) bool {
		for _, n := range names {
			if n == u.Unit || n+".service" == name {
				return true
			}
		}
		return false
	}
}

func TestRestartPlan(t *testing.T) {
	p := runningPlan(func(d plan.Desired, a plan.Actual) *plan.HostPlan {
		return plan.Restart(d, a, pick("openim-push@1", "openim-api"), printWave)
	}, func(a *plan.Actual) { a.Units["openim-api@0.service"] = plan.UnitState{} })
	got := printPlan(p, ui.Options{Verbose: true})
	golden(t, "plan_restart.golden", got)
	require.Contains(t, got, "restart openim-push@1.service (restart requested, release "+oldRelease+")")
	require.Contains(t, got, "start openim-api@0.service (not running, release -)")
	require.NotContains(t, got, "openim-push@0")
	for _, hp := range p.Hosts {
		require.Equal(t, oldRelease, hp.Release, "a restart moves nothing to another release")
		require.Empty(t, hp.UnitFiles)
		require.Empty(t, hp.Pins)
	}
}

func TestStartPlan(t *testing.T) {
	stopped := func(a *plan.Actual) {
		a.Units["openim-push@2.service"] = plan.UnitState{Release: ""}
		a.Units["openim.target"] = plan.UnitState{}
	}
	all := func(plan.UnitRef, string) bool { return true }
	p := runningPlan(func(d plan.Desired, a plan.Actual) *plan.HostPlan {
		return plan.StartStopped(d, a, all, true, printWave)
	}, stopped)
	got := printPlan(p, ui.Options{Verbose: true})
	golden(t, "plan_start.golden", got)
	require.Contains(t, got, "start openim-push@2.service (not running)")
	require.Contains(t, got, "run check.service (start requested)")
	require.Contains(t, got, "start openim.target (after every wave)")
	require.NotContains(t, got, "openim-push@0", "a running instance is not started again")

	one := runningPlan(func(d plan.Desired, a plan.Actual) *plan.HostPlan {
		return plan.StartStopped(d, a, pick("openim-api"), false, printWave)
	}, stopped)
	for _, hp := range one.Hosts {
		require.False(t, hp.Changed(), "openim-api runs: nothing to start, and the target only when all are picked")
	}
}

// TestRollbackPlan: the hosts run release B, where openim-api was added and
// openim-push went from 2 instances to 3; the ledger says A was current
// before. The rollback restores A's units, moves both of A's openim-push
// instances back, and removes what A does not have.
func TestRollbackPlan(t *testing.T) {
	const newRelease = "20261202T090000.000Z-bbbb"
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	p := runningPlan(func(d plan.Desired, a plan.Actual) *plan.HostPlan {
		to, err := plan.RollbackTarget(a, "", false)
		require.NoError(t, err)
		require.Equal(t, oldRelease, to)
		units := a.ReleaseUnits[to]
		hp, err := plan.Rollback(plan.RollbackInput{Host: d.Host, To: to, Target: d.Target, Units: units,
			Uses: map[string][]string{}, WaveOf: printWave,
			DropIn: func(file string, _ []byte) ([]byte, error) {
				return []byte("# pin " + strings.TrimSuffix(strings.TrimSuffix(file, ".service"), "@") + " " + to + "\n"), nil
			}}, a)
		require.NoError(t, err)
		return hp
	}, func(a *plan.Actual) {
		// Everything runs B now.
		a.Releases[newRelease] = maps.Clone(a.Releases[oldRelease])
		a.Current = newRelease
		for n, st := range a.Units {
			if st.Release != "" {
				st.Release = newRelease
				a.Units[n] = st
			}
		}
		for name, text := range a.UnitFiles {
			if strings.HasSuffix(name, ".d/release.conf") {
				a.UnitFiles[name] = []byte(strings.ReplaceAll(string(text), oldRelease, newRelease))
			}
		}
		a.Ledger = []string{
			ledger.New(now.Add(-time.Hour), ledger.Current, oldRelease, nil).Line(),
			ledger.New(now, ledger.Built, newRelease, nil).Line(),
			ledger.New(now, ledger.Current, newRelease, nil).Line(),
		}
		a.ReleaseUnits = map[string]map[string][]byte{
			oldRelease: {
				"check.service":        []byte("[Unit]\nDescription=check\n"),
				"openim-push@.service": []byte("[Unit]\nDescription=push %i (A)\n"),
				"openim.target":        []byte("[Unit]\nDescription=openim\nWants=check.service openim-push@0.service openim-push@1.service\n"),
			},
		}
	})
	got := printPlan(p, ui.Options{Verbose: true})
	golden(t, "plan_rollback.golden", got)
	require.Contains(t, got, fmt.Sprintf("roll back from release %s to %s", newRelease, oldRelease))
	require.Contains(t, got, "restore openim-push@.service from release "+oldRelease)
	require.Contains(t, got, "restart openim-push@1.service (roll back from release "+newRelease+" to "+oldRelease+")")
	for _, hp := range p.Hosts {
		require.Contains(t, hp.Orphans, "openim-push@2.service", "A had two openim-push instances")
		require.Contains(t, hp.Orphans, "openim-api@0.service", "A had no openim-api")
		require.True(t, hp.SwitchCurrent)
	}
}
