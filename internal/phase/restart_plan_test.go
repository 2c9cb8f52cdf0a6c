package phase

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/target/targettest"
)

// pinnedR1 is a host running every demo unit on r1, each instance's
// drop-in pinning it there, with the app target down (stopped by hand).
func pinnedR1() hostView {
	v := runningR1()
	delete(v.running, "demo.target")
	v.owned = map[string][]byte{}
	for _, n := range []string{"rpc@0.service", "rpc@1.service", "api@0.service"} {
		v.owned[n+".d/release.conf"] = []byte("# Managed by openim-deploy (app=demo)\n[Service]\nWorkingDirectory=/opt/demo/releases/" + r1 + "\n")
	}
	return v
}

// TestRestartPhases_OnlyRestartAndItsGates: a restart reads, plans,
// locks and starts units, and nothing else: no release is pushed, no unit
// file installed or removed, current is not switched.
func TestRestartPhases_OnlyRestartAndItsGates(t *testing.T) {
	var titles []string
	for _, p := range RestartPhases(UnitFilter{}) {
		titles = append(titles, p.Title())
	}
	require.Equal(t, []string{"Render", "Connect and read hosts", "Pre-flight", "Plan restart", "Lock hosts", "Start units"}, titles)
}

// TestRestartPhases_PlanRestartsExactlyTheSelection: the restart plan,
// from a real host read, (re)starts exactly the instances picked (with no
// names, every service instance and never a task), each on the release
// it runs with the drop-in it has, in wave order; it never starts the app
// target, even when the target is down, and changes nothing else.
func TestRestartPhases_PlanRestartsExactlyTheSelection(t *testing.T) {
	for _, tc := range []struct {
		names []string
		want  []string // name, restart or start
	}{
		{[]string{"rpc@1"}, []string{"rpc@1.service restart"}},
		{[]string{"api", "rpc@0.service"}, []string{"rpc@0.service restart", "api@0.service start"}},
		{nil, []string{"rpc@0.service restart", "rpc@1.service restart", "api@0.service start"}},
		{[]string{"gate"}, []string{"gate.service start"}},
	} {
		t.Run(strings.Join(tc.names, ","), func(t *testing.T) {
			r, out := demoRun(t, "im-1")
			v := pinnedR1()
			delete(v.running, "api@0.service") // stopped: started, not restarted
			readFleet(t, r, map[string]hostView{"im-1": v})
			f, err := NewUnitFilter(r.Config.Playbook, tc.names)
			require.NoError(t, err)
			require.NoError(t, RestartPhases(f)[3].Run(t.Context(), r))

			hp := r.Hosts[0].Plan
			var got []string
			for _, s := range hp.Starts {
				verb := "start"
				if s.Restart {
					verb = "restart"
				}
				got = append(got, s.Name+" "+verb)
				if s.Task {
					continue
				}
				require.Equal(t, v.owned[s.Name+".d/release.conf"], s.DropIn, "%s keeps its drop-in", s.Name)
				require.Equal(t, v.running[s.Name], s.From)
			}
			require.Equal(t, tc.want, got)
			require.False(t, hp.StartTarget, "a restart never starts the app target")
			require.NotContains(t, out.String(), "start demo.target")
			require.Equal(t, r1, hp.Release, "nothing moves to another release")
			require.False(t, hp.NewRelease)
			require.False(t, hp.SwitchCurrent)
			require.Empty(t, hp.UnitFiles)
			require.Empty(t, hp.Pins)
			require.Empty(t, hp.Orphans)
			require.Empty(t, hp.OrphanFiles)
			require.Empty(t, hp.Enable)
		})
	}
}

// TestRestartPhases_RestartWritesNothing: carried out, a restart plan
// writes no drop-in and reloads nothing (each instance keeps the one it
// has): one reset-failed and restart per step, then the gates.
func TestRestartPhases_RestartWritesNothing(t *testing.T) {
	r, _ := demoRun(t, "im-1")
	readFleet(t, r, map[string]hostView{"im-1": pinnedR1()})
	f, err := NewUnitFilter(r.Config.Playbook, nil)
	require.NoError(t, err)
	require.NoError(t, RestartPhases(f)[3].Run(t.Context(), r))
	host := fakeHost("im-1")
	r.Hosts[0].Target = host
	require.NoError(t, StartUnits{}.Run(t.Context(), r))
	require.Equal(t, []string{"rpc@0.service", "rpc@1.service", "api@0.service"}, restarted(host))
	targettest.NotReceivedContains(t, host, "# install.sh")
	targettest.NotReceivedContains(t, host, "daemon-reload")
	targettest.NotReceivedMatch(t, host, `^systemctl start `)
	for _, c := range host.Commands() {
		require.False(t, strings.Contains(c, "demo.target"), "the target is left alone: %s", c)
	}
	targettest.NoUnexpected(t, host)
}
