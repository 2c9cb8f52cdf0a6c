package phase

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/plan"
	"github.com/openimsdk/openim-deploy/internal/target/targettest"
)

const (
	rOld = "20251101T000000.000Z-0000" // only a stopped instance's drop-in names it
	r0   = "20251201T000000.000Z-0000" // an instance still runs it
)

// TestSwitchCurrent_ProtectsWhatTheHostStillUses: the switch names the
// planned release, keep_releases, a ledger line saying what became
// current from what, and protects exactly the releases the plan found in
// use when the host was read: the previous current, one an instance
// still ran, one a stopped instance's drop-in pins. A host whose plan
// does not switch is sent nothing.
func TestSwitchCurrent_ProtectsWhatTheHostStillUses(t *testing.T) {
	r, out := demoRun(t, "im-1", "im-2")
	r.Opts.Action = "apply"
	v := runningR1()
	v.releases = map[string]map[string]string{rOld: {}, r0: {}, r1: {}}
	v.running["api@0.service"] = r0
	delete(v.running, "rpc@1.service")
	v.owned = map[string][]byte{"rpc@1.service.d/release.conf": []byte("[Service]\nWorkingDirectory=/opt/demo/releases/" + rOld + "\n")}
	fakes := readFleet(t, r, map[string]hostView{"im-1": v})
	require.NoError(t, ComputePlan{}.Run(t.Context(), r))
	hp := r.Hosts[0].Plan
	require.True(t, hp.SwitchCurrent)
	require.Equal(t, r.Opts.ReleaseID, hp.Release)
	r.Hosts[1].Plan = &plan.HostPlan{Host: "im-2", Release: r1, PreviousRelease: r1}
	for _, f := range fakes {
		f.Reset()
		f.On(targettest.Contains("# switch.sh ROOT ID KEEP LEDGERLINE"), targettest.Reply{})
	}

	require.NoError(t, SwitchCurrent{}.Run(t.Context(), r))

	calls := fakes[0].Calls()
	require.Len(t, calls, 1)
	// own.sh's STATEDIR, then switch.sh ROOT ID KEEP LEDGERLINE UNITDIR PROTECTED...
	// (no credentials: nothing retired)
	require.Equal(t, []string{"/var/lib/openim-deploy/demo", "/opt/demo", hp.Release, "3",
		"2023-11-14T22:13:20Z current " + hp.Release + " action=apply from=" + r1, "/etc/systemd/system",
		rOld, r0, r1}, calls[0].Cmd.Args[4:])
	require.Empty(t, fakes[1].Calls(), "a host whose plan does not switch is sent nothing")
	require.Contains(t, out.String(), "[im-1] current -> releases/"+hp.Release)
	o, _, n := r.Hosts[0].Result()
	require.Equal(t, OutcomeChanged, o)
	require.Equal(t, 1, n)
}

// TestSwitchCurrent_FailureFailsTheHost: a switch the host refuses fails
// that host with the script's error; the other host is switched.
func TestSwitchCurrent_FailureFailsTheHost(t *testing.T) {
	r, out := demoRun(t, "im-1", "im-2")
	var fakes []*targettest.Fake
	for _, h := range r.Hosts {
		f := targettest.NewFake(h.Config.Name)
		f.On(targettest.Contains("# switch.sh ROOT ID KEEP LEDGERLINE"), targettest.Reply{})
		h.Target = f
		h.Plan = &plan.HostPlan{Host: h.Config.Name, Release: "r2", PreviousRelease: r1, SwitchCurrent: true, Protect: []string{r1}}
		fakes = append(fakes, f)
	}
	fakes[0].On(targettest.Contains("# switch.sh ROOT ID KEEP LEDGERLINE"), targettest.Reply{Code: 1, Stderr: "mv: cannot move: Read-only file system"})
	require.Error(t, SwitchCurrent{}.Run(t.Context(), r))
	o, err, _ := r.Hosts[0].Result()
	require.Equal(t, OutcomeFailed, o)
	require.ErrorContains(t, err, "switch current to r2")
	require.Contains(t, out.String(), "[im-1] error: switch current to r2")
	o, _, _ = r.Hosts[1].Result()
	require.Equal(t, OutcomeChanged, o)
}

// TestSwitchCurrent_SkippedWhenNoHostSwitches: with current already
// naming the release every instance runs everywhere, the phase is
// skipped.
func TestSwitchCurrent_SkippedWhenNoHostSwitches(t *testing.T) {
	r, _ := demoRun(t, "im-1")
	r.Hosts[0].Target = targettest.NewFake("im-1")
	r.Hosts[0].Plan = &plan.HostPlan{Host: "im-1", Release: r1, PreviousRelease: r1}
	reason, skip := SwitchCurrent{}.Skip(r)
	require.True(t, skip)
	require.Equal(t, "current already names the release every instance runs", reason)
	r.Hosts[0].Plan.SwitchCurrent = true
	_, skip = SwitchCurrent{}.Skip(r)
	require.False(t, skip)
}
