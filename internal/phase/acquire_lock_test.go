package phase

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/clock/clocktest"
	"github.com/openimsdk/openim-deploy/internal/plan"
	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/target/targettest"
)

// answerLock makes f grant the lease and answer the rider that reads the
// host again under it (the state part alone) from v; releases succeed.
func answerLock(t *testing.T, f *targettest.Fake, v hostView) {
	f.OnFunc(targettest.Contains("@@openim-deploy-rider-rc@@"), func(cmd target.Cmd) (target.Result, error) {
		args := cmd.Args[4:] // DIR TTL ID, then the rider's: gather's
		now := hostClock.Unix()
		out := fmt.Sprintf("acquired\n%d\n%d\n\n@@openim-deploy-lock-rc@@ 0\n", now, now+30) +
			gatherOutput(t, v, args[3:]) + partRC(0) + "\n@@openim-deploy-rider-rc@@ 0\n"
		return target.Result{Stdout: []byte(out)}, nil
	})
	f.On(targettest.Contains(`gone=$dir.released.$id`), targettest.Reply{})
}

// TestAcquireLock_OnlyHostsWithChangesAndPlannedAgainUnderTheLease: only
// a host whose plan changes something is locked; the host with nothing
// to do is sent nothing. The lease is taken in one round trip with the
// host's state read again under it, and when that state changed since the
// read (another run stopped an instance meanwhile) the host is planned
// again from it, the new plan replaces the old one in the run's plan, and
// the operator is told. CleanUp gives the lease back.
func TestAcquireLock_OnlyHostsWithChangesAndPlannedAgainUnderTheLease(t *testing.T) {
	r, out := demoRun(t, "im-1", "im-2")
	r.Opts.LockTTL = 30 * time.Second
	r.Clock = clocktest.NewManual(hostClock) // the lease's refresh waits for it
	fakes := readFleet(t, r, nil)
	require.NoError(t, ComputePlan{}.Run(t.Context(), r))
	changed, idle := r.Hosts[0], r.Hosts[1]
	require.True(t, changed.Plan.Changed())
	old := changed.Plan
	idle.Plan = &plan.HostPlan{Host: "im-2", Release: r1, PreviousRelease: r1}
	r.Plan.Hosts[1] = idle.Plan
	now := runningR1()
	delete(now.running, "rpc@1.service") // stopped since the read
	for _, f := range fakes {
		f.Reset()
	}
	answerLock(t, fakes[0], now)

	require.NoError(t, AcquireLock{}.Run(t.Context(), r))

	require.Len(t, fakes[0].Calls(), 1, "lease and state in one round trip")
	require.Empty(t, fakes[1].Calls(), "a host with nothing to do is not locked")
	require.NotNil(t, changed.Lease)
	require.Nil(t, idle.Lease)
	require.NotSame(t, old, changed.Plan, "planned again")
	require.Same(t, changed.Plan, r.Plan.Hosts[0], "the run's plan holds the new host plan")
	var rpc1 []string
	for _, s := range changed.Plan.Starts {
		if s.Name == "rpc@1.service" {
			rpc1 = append(rpc1, s.Reason)
		}
	}
	require.Equal(t, []string{"not running"}, rpc1, "from what is there now")
	require.Contains(t, out.String(), "[im-1] warning: the host changed since it was read (another run?); planned again from what is there now:")

	AcquireLock{}.CleanUp(t.Context(), r)
	require.Nil(t, changed.Lease)
	calls := fakes[0].Calls()
	require.Len(t, calls, 2)
	require.True(t, strings.Contains(calls[1].Line, `gone=$dir.released.$id`), "the lease is released: %s", calls[1].Line)
	targettest.NoUnexpected(t, fakes[0])
}

// TestAcquireLock_HeldHostRefusesTheRunAllOrNothing: a host another run
// holds is locked even with nothing to do here (the run waits for it, or,
// without --lock-wait, is refused naming the holder), and a refusal gives
// back every lease already taken: no host is left locked by a run that
// will not go on.
func TestAcquireLock_HeldHostRefusesTheRunAllOrNothing(t *testing.T) {
	r, out := demoRun(t, "im-1", "im-2")
	r.Opts.LockTTL = 30 * time.Second
	r.Clock = clocktest.NewManual(hostClock)
	held := runningR1()
	held.holder = `{"id":"x1","user":"alice","host":"ctl","pid":42,"command":"apply"}`
	fakes := readFleet(t, r, map[string]hostView{"im-2": held})
	require.NoError(t, ComputePlan{}.Run(t.Context(), r))
	idle := r.Hosts[1]
	idle.Plan = &plan.HostPlan{Host: "im-2", Release: r1, PreviousRelease: r1}
	require.True(t, idle.Holder.Live())
	for _, f := range fakes {
		f.Reset()
	}
	answerLock(t, fakes[0], runningR1())
	fakes[1].On(targettest.Contains("@@openim-deploy-rider-rc@@"), targettest.Reply{Code: 75,
		Stdout: fmt.Sprintf("%d\n%d\n%s\n", hostClock.Unix(), hostClock.Unix()+600, held.holder)})

	err := AcquireLock{}.Run(t.Context(), r)
	require.ErrorContains(t, err, "alice@ctl pid 42")
	require.Len(t, fakes[1].Calls(), 1, "the idle host held by another run is asked for the lock")
	o, _, _ := idle.Result()
	require.Equal(t, OutcomeFailed, o)
	require.Contains(t, out.String(), "[im-2] error: ")
	require.Nil(t, r.Hosts[0].Lease, "the lease taken on im-1 was given back")
	targettest.ReceivedContains(t, fakes[0], `gone=$dir.released.$id`)
}
