package phase

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/clock"
	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/health"
	"github.com/openimsdk/openim-deploy/internal/lock"
	"github.com/openimsdk/openim-deploy/internal/plan"
	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/target/targettest"
	"github.com/openimsdk/openim-deploy/internal/ui"
)

// testPlaybook has two services: api depends on rpc, so rpc is wave 0 and
// api wave 1.
func testPlaybook() *config.Playbook {
	rpc := &config.Service{Unit: config.Unit{Name: "rpc", Binary: "/b/rpc", Hosts: []string{"all"}},
		Instances: []config.Instance{{Name: "0"}}}
	api := &config.Service{Unit: config.Unit{Name: "api", Binary: "/b/api", Hosts: []string{"all"}, DependsOn: []string{"rpc"}},
		Instances: []config.Instance{{Name: "0"}}}
	return &config.Playbook{App: config.App{Name: "demo", Root: "/opt/demo", KeepReleases: 3},
		Services: []*config.Service{rpc, api}}
}

// fakeHost answers what StartUnits sends: the drop-in writer, reloads,
// restarts (failing those named in fail), and "systemctl show" for the
// health gate, always active and stable.
func fakeHost(name string, fail ...string) *targettest.Fake {
	f := targettest.NewFake(name)
	f.On(targettest.Contains("# install.sh DIR"), targettest.Reply{})
	f.On(targettest.Equal("systemctl daemon-reload"), targettest.Reply{})
	f.On(targettest.HasPrefix("systemctl reset-failed"), targettest.Reply{})
	f.On(targettest.Contains("exec systemctl restart"), targettest.Reply{})
	for _, u := range fail {
		f.On(targettest.Regexp(`exec systemctl restart .* sh .*`+regexp.QuoteMeta(u)), targettest.Reply{Code: 1,
			Stderr: "Job for " + u + " failed because the control process exited with error code."})
	}
	f.OnFunc(targettest.HasPrefix("systemctl show"), func(cmd target.Cmd) (target.Result, error) {
		var b strings.Builder
		for i, u := range cmd.Args[5:] {
			if i > 0 {
				b.WriteString("\n")
			}
			b.WriteString("Id=" + u + "\nLoadState=loaded\nActiveState=active\nSubState=running\nMainPID=42\nNRestarts=0\n")
		}
		return target.Result{Stdout: []byte(b.String())}, nil
	})
	f.On(targettest.HasPrefix("systemctl status"), targettest.Reply{Stdout: "failed"})
	f.On(targettest.HasPrefix("journalctl"), targettest.Reply{Stdout: "crash"})
	return f
}

// newTestRun builds a run over fake hosts, each planned to restart rpc@0
// (wave 0) and api@0 (wave 1).
func newTestRun(t *testing.T, parallel int, keepGoing bool, fakes ...*targettest.Fake) (*Run, *bytes.Buffer) {
	t.Helper()
	var out bytes.Buffer
	r := &Run{
		Config: &config.Config{Playbook: testPlaybook()},
		Out:    ui.New(&out, ui.Options{}),
		Opts:   Options{Parallel: parallel, KeepGoing: keepGoing},
		Clock:  clock.System{},
	}
	for _, f := range fakes {
		h := &Host{Config: &config.Host{Name: f.Name(), SSH: config.SSH{User: "root"}}, Target: f,
			Desired: plan.Desired{Target: "demo.target"}, Actual: plan.Actual{UnitFiles: map[string][]byte{}}}
		h.Plan = &plan.HostPlan{Host: f.Name(), Release: "r2", Starts: []plan.Start{
			{Name: "rpc@0.service", Unit: "rpc", Restart: true, Reason: "runs release r1, wants r2", Wave: 0, DropIn: []byte("pin rpc r2\n")},
			{Name: "api@0.service", Unit: "api", Restart: true, Reason: "runs release r1, wants r2", Wave: 1, DropIn: []byte("pin api r2\n")},
		}}
		r.Hosts = append(r.Hosts, h)
	}
	return r, &out
}

func restarted(f *targettest.Fake) []string {
	var out []string
	for _, c := range f.Commands() {
		if strings.Contains(c, "exec systemctl restart") {
			out = append(out, strings.Fields(c[strings.LastIndex(c, "' sh ")+len("' sh "):])...)
		}
	}
	return out
}

// TestStartUnits_WavesInOrder: every host's wave 0 is restarted and gated
// before any wave 1 starts, each instance's drop-in is written (and
// reloaded) just before its own restart.
func TestStartUnits_WavesInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := fakeHost("h1"), fakeHost("h2")
		r, _ := newTestRun(t, 2, false, a, b)
		require.NoError(t, StartUnits{}.Run(t.Context(), r))
		for _, f := range []*targettest.Fake{a, b} {
			require.Equal(t, []string{"rpc@0.service", "api@0.service"}, restarted(f))
			cmds := f.Commands()
			first := indexOf(cmds, "# install.sh DIR")
			require.Less(t, first, indexOf(cmds, "exec systemctl restart"), "pinned before restart")
			require.Empty(t, f.Unexpected())
		}
	})
}

// TestStartUnits_StopsAtFirstFailureInAWave: the first batch's failed
// restart means no further host is restarted, the failed instance is
// rolled back, the later wave never starts, and what was not reached is
// named.
func TestStartUnits_StopsAtFirstFailureInAWave(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b, c := fakeHost("h1", "rpc@0.service"), fakeHost("h2"), fakeHost("h3")
		r, out := newTestRun(t, 1, false, a, b, c)
		err := StartUnits{}.Run(t.Context(), r)
		require.Error(t, err)
		require.Equal(t, []string{"rpc@0.service", "rpc@0.service"}, restarted(a), "moved, then rolled back")
		require.Empty(t, restarted(b))
		require.Empty(t, restarted(c))
		require.Contains(t, out.String(), "not reached after the failure (left as they were): h2/rpc@0.service, h3/rpc@0.service")
		require.Contains(t, out.String(), "auto-rollback of 1 instance(s): h1/rpc@0.service")
		o, _, _ := r.Hosts[0].Result()
		require.Equal(t, OutcomeFailed, o)
	})
}

// TestStartUnits_WaitingUnitFailsItsGate: a unit that waits for its own
// health check in ExecStartPost= and whose start job failed failed its
// health gate, and says so, with the same rollback as any failed gate;
// a unit that does not wait keeps the plain start error.
func TestStartUnits_WaitingUnitFailsItsGate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := fakeHost("h1", "rpc@0.service")
		r, out := newTestRun(t, 1, false, a)
		pb := testPlaybook()
		pb.Services[0].WaitReady = true
		r.Hosts[0].Placement = config.HostPlacement{Services: pb.Services}
		err := StartUnits{}.Run(t.Context(), r)
		require.ErrorIs(t, err, health.ErrUnhealthy)
		require.Contains(t, out.String(), "(re)start rpc@0.service: health gate failed: its readiness check (ExecStartPost=) did not pass within TimeoutStartSec=")
		require.Contains(t, out.String(), "auto-rollback of 1 instance(s): h1/rpc@0.service")

		b := fakeHost("h2", "rpc@0.service")
		r, out = newTestRun(t, 1, false, b)
		err = StartUnits{}.Run(t.Context(), r)
		require.Error(t, err)
		require.NotErrorIs(t, err, health.ErrUnhealthy)
		require.NotContains(t, out.String(), "readiness check")
	})
}

// TestStartUnits_KeepGoing: --keep-going goes on to later waves, but
// never to what depends on the failed service, and a failed rollout of a
// service does not go on to its next batch.
func TestStartUnits_KeepGoing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := fakeHost("h1", "rpc@0.service"), fakeHost("h2")
		r, out := newTestRun(t, 1, true, a, b)
		require.Error(t, StartUnits{}.Run(t.Context(), r))
		require.Equal(t, []string{"rpc@0.service", "rpc@0.service"}, restarted(a))
		require.Empty(t, restarted(b), "the rollout of rpc stopped at its failed batch; api depends on it")
		require.Contains(t, out.String(), "not restarting api@0.service: a dependency failed its health gate")
	})
}

// TestStartUnits_BatchesSpreadOverHosts: with batch 2 over three hosts of
// two instances each, batches take instances from different hosts first,
// and each batch's gates pass before the next batch restarts anything.
func TestStartUnits_BatchesSpreadOverHosts(t *testing.T) {
	items := []rollItem{}
	var hosts []*Host
	for _, n := range []string{"h1", "h2", "h3"} {
		h := &Host{Config: &config.Host{Name: n}}
		hosts = append(hosts, h)
		for _, i := range []string{"0", "1"} {
			items = append(items, rollItem{h, plan.Start{Name: "svc@" + i + ".service"}})
		}
	}
	got := batches(spread(items), 1, 2)
	var names [][]string
	for _, b := range got {
		var ns []string
		for _, it := range b {
			ns = append(ns, it.String())
		}
		names = append(names, ns)
	}
	require.Equal(t, [][]string{
		{"h1/svc@0.service"},
		{"h2/svc@0.service", "h3/svc@0.service"},
		{"h1/svc@1.service", "h2/svc@1.service"},
		{"h3/svc@1.service"},
	}, names, "a canary of 1, then batches of 2 spread over hosts")
}

// TestStartUnits_LostLeaseStopsTheRun: a run whose lock was taken over
// starts nothing more.
func TestStartUnits_LostLeaseStopsTheRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := fakeHost("h1")
		r, _ := newTestRun(t, 1, false, a)
		r.Hosts[0].Lease = lostLease(t)
		err := StartUnits{}.Run(t.Context(), r)
		require.ErrorContains(t, err, "lock lost")
		require.Empty(t, restarted(a))
	})
}

func indexOf(cmds []string, sub string) int {
	for i, c := range cmds {
		if strings.Contains(c, sub) {
			return i
		}
	}
	return -1
}

func lostLease(t *testing.T) *lock.Lease {
	t.Helper()
	return lock.LostLease(errors.New("taken over by another run"))
}

// TestStartUnits_RollbackRestoresThePreviousPin: the auto-rollback of a
// failed batch writes back the drop-in the instance had before the run
// (not the one this run wrote), then restarts it.
func TestStartUnits_RollbackRestoresThePreviousPin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := fakeHost("h1", "rpc@0.service")
		r, _ := newTestRun(t, 1, false, a)
		r.Hosts[0].Actual.UnitFiles["rpc@0.service.d/release.conf"] = []byte("pin rpc r1\n")
		require.Error(t, StartUnits{}.Run(t.Context(), r))
		var writes []string
		for _, c := range a.Calls() {
			if strings.Contains(c.Line, "# install.sh DIR") {
				writes = append(writes, string(c.Stdin))
			}
		}
		require.Len(t, writes, 2)
		require.Contains(t, writes[0], "pin rpc r2\n")
		require.Contains(t, writes[1], "pin rpc r1\n", "the rollback restores the pin the instance had")
	})
}

// TestStartUnits_RollbackPinsTheReleaseThatRan: after an interrupted run
// the drop-in already pins the new release while the process still runs
// the old one. The auto-rollback pins the release the process ran (read
// from the host), never the gathered drop-in that names the failed one.
func TestStartUnits_RollbackPinsTheReleaseThatRan(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := fakeHost("h1", "rpc@0.service")
		r, _ := newTestRun(t, 1, false, a)
		h := r.Hosts[0]
		h.Actual.UnitFiles["rpc@0.service.d/release.conf"] = []byte("[Service]\nWorkingDirectory=/opt/demo/releases/r2\n")
		h.Plan.Starts[0].From = "r1"
		h.Desired.Units = []plan.UnitRef{{Unit: "rpc", Names: []string{"rpc@0.service"},
			DropIn: func(id string) []byte { return []byte("[Service]\nWorkingDirectory=/opt/demo/releases/" + id + "\n") }}}
		require.Error(t, StartUnits{}.Run(t.Context(), r))
		var writes []string
		for _, c := range a.Calls() {
			if strings.Contains(c.Line, "# install.sh DIR") {
				writes = append(writes, string(c.Stdin))
			}
		}
		require.Len(t, writes, 2)
		require.Contains(t, writes[1], "WorkingDirectory=/opt/demo/releases/r1\n", "the rollback pins the release the instance ran")
		require.NotContains(t, writes[1], "releases/r2")
	})
}

// TestStartUnits_FirstCtrlCStopsAfterTheBatch: a Ctrl-C during a batch
// lets it settle (restart and gate), then no further batch starts.
func TestStartUnits_FirstCtrlCStopsAfterTheBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := fakeHost("h1"), fakeHost("h2")
		intr := make(chan struct{})
		var once sync.Once
		a.OnFunc(targettest.Contains("exec systemctl restart"), func(target.Cmd) (target.Result, error) {
			once.Do(func() { close(intr) }) // Ctrl-C while h1 restarts
			return target.Result{}, nil
		})
		r, out := newTestRun(t, 2, false, a, b)
		r.Opts.Interrupt = intr
		err := StartUnits{}.Run(t.Context(), r)
		require.ErrorIs(t, err, context.Canceled)
		require.Equal(t, []string{"rpc@0.service"}, restarted(a), "the batch under way settled")
		require.Empty(t, restarted(b), "no batch started after the Ctrl-C")
		require.Contains(t, out.String(), "stopped after batch 1 of 2")
	})
}

// TestStartUnits_UnreachableDependencyHostBlocksDependents: rpc runs on a
// host that is unreachable, so api, which depends on rpc, is not started
// anywhere, while rpc itself still rolls where the host answers.
func TestStartUnits_UnreachableDependencyHostBlocksDependents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := fakeHost("h1"), fakeHost("h2")
		r, out := newTestRun(t, 2, false, a, b)
		down := r.Hosts[1]
		down.Placement.Services = testPlaybook().Services[:1] // rpc
		down.Fail(OutcomeUnreachable, errors.New("no route to host"))
		r.Hosts[0].Plan.StartTarget = true
		a.On(targettest.HasPrefix("systemctl start"), targettest.Reply{})
		err := StartUnits{}.Run(t.Context(), r)
		require.NoError(t, err)
		require.Equal(t, []string{"rpc@0.service"}, restarted(a))
		require.Empty(t, restarted(b))
		require.Contains(t, out.String(), "[h2] warning: takes no part in this run: what depends on rpc is not started on any host")
		require.Contains(t, out.String(), "not restarting api@0.service: a dependency failed its health gate")
		// The app target wants api@0: starting it would start what was held back.
		targettest.NotReceivedContains(t, a, "systemctl start -- demo.target")
		require.Contains(t, out.String(), "not starting demo.target: it would start api@0.service, held back")
	})
}

// TestStartUnits_OneCallPerHost: the instances of a step on a host restart
// in one systemctl call; one whose job fails is reported at once and not
// gated, the others are gated and pass.
func TestStartUnits_OneCallPerHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := fakeHost("h1", "rpc@1.service")
		r, out := newTestRun(t, 1, false, a)
		r.Hosts[0].Plan.Starts = []plan.Start{
			{Name: "rpc@0.service", Unit: "rpc", Reason: "not running", DropIn: []byte("pin rpc@0 r2\n")},
			{Name: "rpc@1.service", Unit: "rpc", Reason: "not running", DropIn: []byte("pin rpc@1 r2\n")},
		}
		require.Error(t, StartUnits{}.Run(t.Context(), r))
		var calls int
		for _, c := range a.Commands() {
			if strings.Contains(c, "exec systemctl restart") {
				calls++
			}
		}
		require.Equal(t, 1, calls, "one systemctl call for both instances")
		require.Equal(t, []string{"rpc@0.service", "rpc@1.service"}, restarted(a))
		require.Contains(t, out.String(), "healthy rpc@0.service")
		require.NotContains(t, out.String(), "healthy rpc@1.service")
		require.Contains(t, out.String(), "rpc@1.service")
	})
}
