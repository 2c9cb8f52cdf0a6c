package phase

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/plan"
)

// TestPlanRollback_Target: without --to, the release before current;
// --to must name a release kept on the host.
func TestPlanRollback_Target(t *testing.T) {
	a := plan.Actual{Current: "r3", Releases: map[string]map[string]string{"r1": {}, "r2": {}, "r3": {}, "r4": {}}}
	got, err := PlanRollback{}.target(a)
	require.NoError(t, err)
	require.Equal(t, "r2", got)
	got, err = PlanRollback{To: "r1"}.target(a)
	require.NoError(t, err)
	require.Equal(t, "r1", got)
	_, err = PlanRollback{To: "r9"}.target(a)
	require.ErrorContains(t, err, "release r9 is not on the host")
	_, err = PlanRollback{}.target(plan.Actual{Current: "r1", Releases: map[string]map[string]string{"r1": {}}})
	require.ErrorContains(t, err, "no release older than current")
}

// TestPlanRollback_Helpers: the instances a release's target names, and
// whether two releases agree on every file a unit uses.
func TestPlanRollback_Helpers(t *testing.T) {
	target := []byte("[Unit]\nWants=gate.service\nWants=api@0.service api@1.service\n\n[Install]\nWantedBy=multi-user.target\n")
	require.Equal(t, []string{"gate.service", "api@0.service", "api@1.service"}, targetWants(target))
	a := map[string]string{"bin/api": "1", "config/x": "c", "bin/other": "o1"}
	b := map[string]string{"bin/api": "1", "config/x": "c", "bin/other": "o2"}
	require.True(t, plan.SameUses([]string{"bin/api", "config/"}, a, b))
	require.False(t, plan.SameUses([]string{"bin/other"}, a, b))
	b["config/y"] = "new"
	require.False(t, plan.SameUses([]string{"config/"}, a, b), "a file added to a used set is a difference")
}
