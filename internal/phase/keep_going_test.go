package phase

import (
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/plan"
)

// keepGoingPlaybook: rpc and cache in wave 0, api (depends on cache) in
// wave 1.
func keepGoingPlaybook() *config.Playbook {
	svc := func(name string, deps ...string) *config.Service {
		return &config.Service{Unit: config.Unit{Name: name, Binary: "/b/" + name, Hosts: []string{"all"}, DependsOn: deps},
			Instances: []config.Instance{{Name: "0"}}}
	}
	return &config.Playbook{App: config.App{Name: "demo", Root: "/opt/demo", KeepReleases: 3},
		Services: []*config.Service{svc("rpc"), svc("cache"), svc("api", "cache")}}
}

// TestStartUnits_KeepGoingSkipsExactlyWhatDependsOnTheFailure: a fresh
// start of rpc fails on h1. With --keep-going the wave's rolling restarts
// still run where they do not depend on rpc: cache rolls on h2, and then
// api, which depends on cache (not on rpc), rolls too. Before, the failed
// fresh start skipped every rolling restart of the wave on every host,
// silently, and the next wave then rolled api onto a release cache never
// reached.
func TestStartUnits_KeepGoingSkipsExactlyWhatDependsOnTheFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := fakeHost("h1", "rpc@0.service"), fakeHost("h2")
		r, out := newTestRun(t, 2, true, a, b)
		r.Config.Playbook = keepGoingPlaybook()
		r.Hosts[0].Plan.Starts = []plan.Start{
			{Name: "rpc@0.service", Unit: "rpc", Reason: "not running", Wave: 0, DropIn: []byte("pin rpc r2\n")},
		}
		r.Hosts[1].Plan.Starts = []plan.Start{
			{Name: "cache@0.service", Unit: "cache", Restart: true, Reason: "runs release r1, wants r2", Wave: 0, DropIn: []byte("pin cache r2\n")},
			{Name: "api@0.service", Unit: "api", Restart: true, Reason: "runs release r1, wants r2", Wave: 1, DropIn: []byte("pin api r2\n")},
		}
		require.Error(t, StartUnits{}.Run(t.Context(), r))
		require.Equal(t, []string{"cache@0.service", "api@0.service"}, restarted(b),
			"cache rolled although rpc failed elsewhere, and api followed its dependency")
		require.NotContains(t, out.String(), "not restarting")
	})
}

// TestStartUnits_KeepGoingHoldsBackDependentsOfASkippedRoll: when cache
// itself fails on one host, its running instances elsewhere are not rolled
// onto the failed release, and api, which depends on it, is not rolled
// either; both are named with the reason.
func TestStartUnits_KeepGoingHoldsBackDependentsOfASkippedRoll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := fakeHost("h1", "cache@0.service"), fakeHost("h2")
		r, out := newTestRun(t, 2, true, a, b)
		r.Config.Playbook = keepGoingPlaybook()
		r.Hosts[0].Plan.Starts = []plan.Start{
			{Name: "cache@0.service", Unit: "cache", Reason: "not running", Wave: 0, DropIn: []byte("pin cache r2\n")},
		}
		r.Hosts[1].Plan.Starts = []plan.Start{
			{Name: "cache@0.service", Unit: "cache", Restart: true, Reason: "runs release r1, wants r2", Wave: 0, DropIn: []byte("pin cache r2\n")},
			{Name: "api@0.service", Unit: "api", Restart: true, Reason: "runs release r1, wants r2", Wave: 1, DropIn: []byte("pin api r2\n")},
		}
		require.Error(t, StartUnits{}.Run(t.Context(), r))
		require.Empty(t, restarted(b))
		require.Contains(t, out.String(), "[h2] warning: not restarting cache@0.service: an instance of cache failed in this run")
		require.Contains(t, out.String(), "[h2] warning: not restarting api@0.service: a dependency failed its health gate")
	})
}
