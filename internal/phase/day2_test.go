package phase

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/plan"
	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/target/targettest"
	"github.com/openimsdk/openim-deploy/internal/ui"
)

// instantClock is fake time that passes as soon as anyone waits on it, so
// health gates with a stable window finish at once and deterministically.
type instantClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *instantClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *instantClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.now = c.now.Add(d)
	now := c.now
	c.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- now
	return ch
}

// fleetLog records systemctl start/stop calls of every host in one order.
type fleetLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *fleetLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, s)
}

// day2Run is two hosts running gate (task) -> backend (2 instances) -> api,
// plus cron depending on gate only, on fakes that answer systemctl.
func day2Run(t *testing.T, log *fleetLog) (*Run, []*targettest.Fake) {
	bin := filepath.Join(t.TempDir(), "bin")
	require.NoError(t, os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755))
	unit := func(name string, deps ...string) config.Unit {
		return config.Unit{Name: name, Binary: bin, Hosts: []string{"app"}, DependsOn: deps}
	}
	inst := func(names ...string) []config.Instance {
		var out []config.Instance
		for i, n := range names {
			out = append(out, config.Instance{Name: n, Index: i, Health: config.Health{Stable: 2 * time.Second}})
		}
		return out
	}
	cfg := &config.Config{
		Inventory: &config.Inventory{Hosts: []*config.Host{
			{Name: "im-1", Groups: []string{"app"}}, {Name: "im-2", Groups: []string{"app"}},
		}},
		Playbook: &config.Playbook{
			App:   config.App{Name: "openim", Root: "/opt/openim"},
			Tasks: []*config.Task{{Unit: unit("gate")}},
			Services: []*config.Service{
				{Unit: unit("backend", "gate"), Instances: inst("0", "1")},
				{Unit: unit("api", "backend"), Instances: inst("0")},
				{Unit: unit("cron", "gate"), Instances: inst("0")},
			},
		},
	}
	r := &Run{Config: cfg, Out: ui.Discard(), Opts: Options{Parallel: 4}, Clock: &instantClock{}}
	var fakes []*targettest.Fake
	for _, hp := range cfg.Placement() {
		f := targettest.NewFake(hp.Host.Name)
		name := hp.Host.Name
		f.OnFunc(targettest.Regexp(`^systemctl (start|stop|reset-failed) `), func(cmd target.Cmd) (target.Result, error) {
			if cmd.Args[1] != "reset-failed" {
				log.add(name + " " + strings.Join(cmd.Args[1:], " "))
			}
			return target.Result{}, nil
		})
		f.OnFunc(targettest.Regexp(`^systemctl restart `), func(cmd target.Cmd) (target.Result, error) {
			log.add(name + " " + strings.Join(cmd.Args[1:], " "))
			return target.Result{}, nil
		})
		f.OnFunc(targettest.Contains("systemctl reset-failed -- \"$@\""),
			func(cmd target.Cmd) (target.Result, error) {
				log.add(name + " restart -- " + strings.Join(cmd.Args[4:], " "))
				return target.Result{}, nil
			})
		f.OnFunc(targettest.HasPrefix("systemctl show "), func(cmd target.Cmd) (target.Result, error) {
			var b strings.Builder
			for i, u := range cmd.Args[5:] {
				fmt.Fprintf(&b, "Id=%s\nLoadState=loaded\nActiveState=active\nSubState=running\nMainPID=%d\nNRestarts=0\n\n", u, 100+i)
			}
			return target.Result{Stdout: []byte(b.String())}, nil
		})
		r.Hosts = append(r.Hosts, &Host{Config: hp.Host, Placement: hp, Target: f})
		fakes = append(fakes, f)
	}
	return r, fakes
}

// index returns the position of the first call with suffix in log.
func index(t *testing.T, calls []string, host, call string) int {
	t.Helper()
	for i, c := range calls {
		if c == host+" "+call {
			return i
		}
	}
	t.Fatalf("no %q on %s in %q", call, host, calls)
	return -1
}

// TestStopUnits_ReverseWavesAcrossFleet pins that stop takes down every
// host's dependents before any host's dependencies, and the target last.
func TestStopUnits_ReverseWavesAcrossFleet(t *testing.T) {
	log := &fleetLog{}
	r, fakes := day2Run(t, log)
	f, err := NewUnitFilter(r.Config.Playbook, nil)
	require.NoError(t, err)
	require.NoError(t, StopUnits{Filter: f}.Run(t.Context(), r))
	for _, a := range []string{"im-1", "im-2"} {
		for _, b := range []string{"im-1", "im-2"} {
			require.Less(t, index(t, log.calls, a, "stop -- api@0.service"), index(t, log.calls, b, "stop -- backend@0.service backend@1.service cron@0.service"))
			require.Less(t, index(t, log.calls, a, "stop -- backend@0.service backend@1.service cron@0.service"), index(t, log.calls, b, "stop -- gate.service"))
			require.Less(t, index(t, log.calls, a, "stop -- gate.service"), index(t, log.calls, b, "stop -- openim.target"))
		}
	}
	for _, fk := range fakes {
		require.Empty(t, fk.Unexpected())
	}
}

// TestStopUnits_OneService pins that naming a service stops only its
// instances and leaves the target alone.
func TestStopUnits_OneService(t *testing.T) {
	log := &fleetLog{}
	r, _ := day2Run(t, log)
	f, err := NewUnitFilter(r.Config.Playbook, []string{"backend@1"})
	require.NoError(t, err)
	require.NoError(t, StopUnits{Filter: f}.Run(t.Context(), r))
	require.ElementsMatch(t, []string{"im-1 stop -- backend@1.service", "im-2 stop -- backend@1.service"}, log.calls)
}

// startStopped runs what start runs once the hosts are read: the plan of
// StartUnitsOf(f) from hosts where nothing runs, then the one executor.
func startStopped(ctx context.Context, t *testing.T, r *Run, names ...string) error {
	t.Helper()
	f, err := NewUnitFilter(r.Config.Playbook, names)
	require.NoError(t, err)
	require.NoError(t, Render{}.Run(ctx, r))
	for _, h := range r.Hosts {
		h.Actual = plan.Actual{Units: map[string]plan.UnitState{}}
	}
	require.NoError(t, ComputePlan{Intent: StartUnitsOf(f)}.Run(ctx, r))
	return StartUnits{}.Run(ctx, r)
}

// TestStartStopped_WavesWithGates pins that start runs the gate task, then
// each wave only after the previous wave passed its health gate on every
// host, and starts the target last.
func TestStartStopped_WavesWithGates(t *testing.T) {
	log := &fleetLog{}
	r, fakes := day2Run(t, log)
	require.NoError(t, startStopped(t.Context(), t, r))
	for _, a := range []string{"im-1", "im-2"} {
		for _, b := range []string{"im-1", "im-2"} {
			require.Less(t, index(t, log.calls, a, "restart -- gate.service"), index(t, log.calls, b, "restart -- backend@0.service backend@1.service cron@0.service"))
			require.Less(t, index(t, log.calls, a, "restart -- backend@0.service backend@1.service cron@0.service"), index(t, log.calls, b, "restart -- api@0.service"))
			require.Less(t, index(t, log.calls, a, "restart -- api@0.service"), index(t, log.calls, b, "start -- openim.target"))
		}
	}
	for _, fk := range fakes {
		require.Empty(t, fk.Unexpected())
	}
}

// TestStartStopped_FailedGateStopsTheRun pins that a unit that does not
// come up stops the run before its dependents start anywhere.
func TestStartStopped_FailedGateStopsTheRun(t *testing.T) {
	log := &fleetLog{}
	r, fakes := day2Run(t, log)
	fakes[1].OnFunc(targettest.HasPrefix("systemctl show "), func(cmd target.Cmd) (target.Result, error) {
		var b strings.Builder
		for _, u := range cmd.Args[5:] {
			fmt.Fprintf(&b, "Id=%s\nLoadState=loaded\nActiveState=failed\nSubState=failed\nMainPID=0\nNRestarts=0\n\n", u)
		}
		return target.Result{Stdout: []byte(b.String())}, nil
	})
	for _, fk := range fakes {
		fk.On(targettest.HasPrefix("systemctl status "), targettest.Reply{Code: 3})
		fk.On(targettest.HasPrefix("journalctl "), targettest.Reply{})
	}
	err := startStopped(context.Background(), t, r)
	require.Error(t, err)
	require.NotContains(t, strings.Join(log.calls, "\n"), "api@0", "no dependent started after a failed gate")
	o, _, _ := r.Hosts[1].Result()
	require.Equal(t, OutcomeFailed, o)
}

// TestNewUnitFilter pins the names start, stop and logs accept.
func TestNewUnitFilter(t *testing.T) {
	r, _ := day2Run(t, &fleetLog{})
	pb := r.Config.Playbook
	f, err := NewUnitFilter(pb, []string{"api", "backend@1.service"})
	require.NoError(t, err)
	var got []string
	for _, p := range PlacedUnits(r.Hosts[0].Placement) {
		if f.Match(p) {
			got = append(got, p.Short())
		}
	}
	require.Equal(t, []string{"backend@1", "api@0"}, got)
	_, err = NewUnitFilter(pb, []string{"apj"})
	require.ErrorContains(t, err, `"apj" is not a task or service of the playbook (have: gate, backend, api, cron)`)
	_, err = NewUnitFilter(pb, []string{"backend@7"})
	require.ErrorContains(t, err, `backend has no instance "7"`)
	_, err = NewUnitFilter(pb, []string{"gate@0"})
	require.ErrorContains(t, err, `gate has no instance "0"`)
}
