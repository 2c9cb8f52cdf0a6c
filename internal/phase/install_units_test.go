package phase

import (
	"strings"
	"testing"
	"testing/synctest"

	"github.com/openimsdk/openim-deploy/internal/plan"
	"github.com/stretchr/testify/require"
)

// TestInstallUnits_PinsColdStartsWithTheUnits: an instance that starts
// cold (not running, and systemd would not start it by itself) is pinned
// in the install's round trip, so its wave writes and reloads nothing
// more; a running instance and one in an auto-restart loop are pinned only
// at their turn.
func TestInstallUnits_PinsColdStartsWithTheUnits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := fakeHost("h1")
		r, _ := newTestRun(t, 1, false, f)
		h := r.Hosts[0]
		h.Plan.Reload = true
		h.Plan.UnitFiles = []plan.UnitFile{{Name: "rpc@.service", Content: []byte("[Service]\n")}}
		h.Plan.Starts = append(h.Plan.Starts,
			plan.Start{Name: "rpc@1.service", Unit: "rpc", Reason: "not running", DropIn: []byte("pin rpc@1 r2\n")},
			plan.Start{Name: "rpc@2.service", Unit: "rpc", Reason: "not running", DropIn: []byte("pin rpc@2 r2\n")})
		h.Actual.Units = map[string]plan.UnitState{"rpc@2.service": {ActiveState: "activating"}}
		require.NoError(t, InstallUnits{}.Run(t.Context(), r))
		var installs []string
		for _, c := range f.Calls() {
			if strings.Contains(c.Line, "# install.sh DIR") {
				installs = append(installs, string(c.Stdin))
			}
		}
		require.Len(t, installs, 1, "one round trip for units, enablement and reload")
		require.Contains(t, installs[0], "pin rpc@1 r2\n", "the cold start is pinned with the units")
		require.NotContains(t, installs[0], "pin rpc r2\n", "a running instance is pinned at its turn")
		require.NotContains(t, installs[0], "pin rpc@2 r2\n", "an instance systemd is restarting is pinned at its turn")
		require.Equal(t, []byte("pin rpc@1 r2\n"), h.unitFile("rpc@1.service.d/release.conf"), "its wave sees it written")
	})
}
