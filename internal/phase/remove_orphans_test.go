package phase

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/plan"
	"github.com/openimsdk/openim-deploy/internal/target/targettest"
)

// orphanHost answers what RemoveOrphans sends: systemctl stop, disable,
// reset-failed and daemon-reload, and install.sh.
func orphanHost(name string) *targettest.Fake {
	f := targettest.NewFake(name)
	f.On(targettest.Regexp(`^systemctl (stop|disable|reset-failed) -- `), targettest.Reply{})
	f.On(targettest.Equal("systemctl daemon-reload"), targettest.Reply{})
	f.On(targettest.Contains("# install.sh DIR APP"), targettest.Reply{})
	return f
}

// TestRemoveOrphans_ExactlyThePlansOrphans: from a host read where the
// tool's own files include a service the playbook dropped (template and
// an instance's drop-in) and an instance beyond rpc's count, the plan's
// orphans are stopped one by one, then disabled and reset in one call
// each, then exactly the plan's orphan files are deleted (nothing written)
// in one install, and systemd reloaded, in that order. A host with no
// orphans is sent nothing.
func TestRemoveOrphans_ExactlyThePlansOrphans(t *testing.T) {
	r, out := demoRun(t, "im-1", "im-2")
	v := runningR1()
	v.owned = map[string][]byte{
		"old@.service":                 []byte("# Managed by openim-deploy (app=demo)\n[Service]\n"),
		"old@0.service.d/release.conf": []byte("# Managed by openim-deploy (app=demo)\n"),
		"rpc@2.service.d/release.conf": []byte("# Managed by openim-deploy (app=demo)\n"),
	}
	readFleet(t, r, map[string]hostView{"im-1": v})
	require.NoError(t, ComputePlan{}.Run(t.Context(), r))
	hp := r.Hosts[0].Plan
	require.Equal(t, []string{"old@0.service", "rpc@2.service"}, hp.Orphans)
	require.ElementsMatch(t, []string{"old@.service", "old@0.service.d/release.conf", "rpc@2.service.d/release.conf"}, hp.OrphanFiles)
	require.Empty(t, r.Hosts[1].Plan.Orphans)
	require.Empty(t, r.Hosts[1].Plan.OrphanFiles)
	a, b := orphanHost("im-1"), orphanHost("im-2")
	r.Hosts[0].Target, r.Hosts[1].Target = a, b

	require.NoError(t, RemoveOrphans{}.Run(t.Context(), r))

	calls := a.Calls()
	var lines []string
	for _, c := range calls {
		lines = append(lines, c.Line)
	}
	require.Len(t, lines, 6, "%q", lines)
	require.Equal(t, []string{
		"systemctl stop -- old@0.service",
		"systemctl stop -- rpc@2.service",
		"systemctl disable -- old@0.service rpc@2.service",
		"systemctl reset-failed -- old@0.service rpc@2.service",
	}, lines[:4])
	require.Contains(t, lines[4], "# install.sh DIR APP")
	require.Equal(t, []string{"/var/lib/openim-deploy/demo", "/etc/systemd/system", "demo"}, calls[4].Cmd.Args[4:],
		"no reload or enable inside the install")
	var dels []string
	for l := range strings.Lines(string(calls[4].Stdin)) {
		rel, ok := strings.CutPrefix(strings.TrimSuffix(l, "\n"), "del - - - ")
		require.True(t, ok, "only deletions: %q", l)
		dels = append(dels, rel)
	}
	require.Equal(t, hp.OrphanFiles, dels)
	require.Equal(t, "systemctl daemon-reload", lines[5])
	targettest.NoUnexpected(t, a)
	require.Empty(t, b.Calls(), "a host with no orphans is sent nothing")

	o, _, n := r.Hosts[0].Result()
	require.Equal(t, OutcomeChanged, o)
	require.Equal(t, 5, n, "two units and three files")
	require.Contains(t, out.String(), "[im-1] stopped and disabled old@0.service rpc@2.service")
	require.Contains(t, out.String(), "[im-1] removed old@.service")
}

// TestRemoveOrphans_FailedStopRemovesNothing: an orphan that does not
// stop fails its host before anything is disabled or removed there.
func TestRemoveOrphans_FailedStopRemovesNothing(t *testing.T) {
	r, _ := demoRun(t, "im-1")
	f := orphanHost("im-1")
	f.On(targettest.Equal("systemctl stop -- old@0.service"), targettest.Reply{Code: 1, Stderr: "Job for old@0.service canceled."})
	r.Hosts[0].Target = f
	r.Hosts[0].Plan = &plan.HostPlan{Host: "im-1", Orphans: []string{"old@0.service"}, OrphanFiles: []string{"old@.service"}}
	require.Error(t, RemoveOrphans{}.Run(t.Context(), r))
	require.Equal(t, []string{"systemctl stop -- old@0.service"}, f.Commands())
	o, _, n := r.Hosts[0].Result()
	require.Equal(t, OutcomeFailed, o)
	require.Zero(t, n)
}
