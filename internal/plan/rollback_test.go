package plan

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/ledger"
)

var at = time.Date(2026, 12, 5, 7, 0, 0, 0, time.UTC)

func ledgerLines(es ...ledger.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Line())
	}
	return out
}

// TestRollbackTarget: v1 served, a crash-looping release failed and was
// rolled back, v2 served. rollback goes to v1, never to the crashed
// release that sits between them by id; --to the crashed one is refused
// unless forced.
func TestRollbackTarget(t *testing.T) {
	const v1, bad, v2 = "20261205T070000.000Z-aaaa", "20261205T071000.000Z-bbbb", "20261205T072000.000Z-cccc"
	a := Actual{Current: v2, Releases: map[string]map[string]string{v1: {}, bad: {}, v2: {}},
		Ledger: ledgerLines(
			ledger.New(at, ledger.Current, v1, nil),
			ledger.New(at, ledger.Built, bad, nil),
			ledger.New(at, ledger.Failed, bad, map[string]string{"units": "api@0.service"}),
			ledger.New(at, ledger.RolledBack, bad, map[string]string{"to": v1}),
			ledger.New(at, ledger.Current, v2, nil),
		)}
	got, err := RollbackTarget(a, "", false)
	require.NoError(t, err)
	require.Equal(t, v1, got)

	_, err = RollbackTarget(a, bad, false)
	require.ErrorIs(t, err, ErrNeverServed)
	require.ErrorContains(t, err, "failed its health gate")
	got, err = RollbackTarget(a, bad, true)
	require.NoError(t, err)
	require.Equal(t, bad, got)
	got, err = RollbackTarget(a, v1, false)
	require.NoError(t, err)
	require.Equal(t, v1, got)
	_, err = RollbackTarget(a, "r9", true)
	require.ErrorContains(t, err, "not on the host")

	noLedger := a
	noLedger.Ledger = nil
	_, err = RollbackTarget(noLedger, "", false)
	require.ErrorContains(t, err, "no release ledger")
	first := a
	first.Ledger = first.Ledger[:1]
	first.Current = v1
	_, err = RollbackTarget(first, "", false)
	require.ErrorContains(t, err, "current before "+v1)
}

func TestTargetWants(t *testing.T) {
	target := []byte("[Unit]\nWants=gate.service\nWants=api@0.service api@1.service\n\n[Install]\nWantedBy=multi-user.target\n")
	require.Equal(t, []string{"gate.service", "api@0.service", "api@1.service"}, TargetWants(target))
	a := map[string]string{"bin/api": "1", "config/x": "c", "bin/other": "o1"}
	b := map[string]string{"bin/api": "1", "config/x": "c", "bin/other": "o2"}
	require.True(t, SameUses([]string{"bin/api", "config/"}, a, b))
	require.False(t, SameUses([]string{"bin/other"}, a, b))
	b["config/y"] = "new"
	require.False(t, SameUses([]string{"config/"}, a, b), "a file added to a used set is a difference")
}

// rollbackInput: release "old" keeps gate, api with one instance and the
// target; the host now runs "new", which added a second api instance and a
// service "extra".
func rollbackInput() RollbackInput {
	return RollbackInput{Host: "h", To: "old", Target: "demo.target",
		Units: map[string][]byte{
			"demo.target":  []byte("[Unit]\nWants=gate.service\nWants=api@0.service\n"),
			"gate.service": []byte("# gate old\n"),
			"api@.service": []byte("# api old\n"),
		},
		Uses:   map[string][]string{"api": {"bin/api"}},
		WaveOf: func(u string) int { return map[string]int{"gate": 0, "api": 1}[u] },
		DropIn: func(file string, _ []byte) ([]byte, error) { return []byte(fmt.Sprintf("pin %s old\n", file)), nil },
	}
}

func rolledForward() Actual {
	a := Actual{Current: "new", Releases: map[string]map[string]string{"old": {"bin/api": "1"}, "new": {"bin/api": "2"}},
		UnitFiles: map[string][]byte{"api@.service": []byte("# api new\n"), "gate.service": []byte("# gate old\n"),
			"extra@.service": []byte("# extra\n"), "demo.target": []byte("# target new\n")},
		Units: map[string]UnitState{}}
	for _, n := range []string{"demo.target", "gate.service", "api@0.service", "api@1.service", "extra@0.service"} {
		a.Units[n] = UnitState{Active: true, Enabled: true, Release: "new"}
		a.Owned = append(a.Owned, n)
		a.Wants = append(a.Wants, n)
	}
	a.Units["gate.service"] = UnitState{Active: true, Enabled: true}
	a.Owned = []string{"demo.target", "gate.service", "api@.service", "extra@.service",
		"api@0.service.d/release.conf", "api@1.service.d/release.conf", "extra@0.service.d/release.conf", "gate.service.d/release.conf"}
	return a
}

// TestRollback_RemovesWhatTheReleaseLacks: rolling back to a release
// without "extra" and with one api instance stops, disables and removes
// extra@0 and api@1 (they would otherwise run the newer release while
// current names the older), restores the older unit text and rolls api@0.
func TestRollback_RemovesWhatTheReleaseLacks(t *testing.T) {
	hp, err := Rollback(rollbackInput(), rolledForward())
	require.NoError(t, err)
	require.Equal(t, "old", hp.Release)
	require.True(t, hp.SwitchCurrent)
	require.Equal(t, []string{"api@0.service"}, startNames(hp))
	require.True(t, hp.Starts[0].Restart)
	require.Equal(t, "new", hp.Starts[0].From)
	require.ElementsMatch(t, []string{"api@1.service", "extra@0.service"}, hp.Orphans)
	require.Contains(t, hp.OrphanFiles, "extra@.service")
	require.Contains(t, hp.OrphanFiles, "api@1.service.d/release.conf")
	require.NotContains(t, hp.OrphanFiles, "api@.service")
	var restored []string
	for _, uf := range hp.UnitFiles {
		restored = append(restored, uf.Name)
	}
	require.ElementsMatch(t, []string{"api@.service", "demo.target"}, restored)
	require.True(t, hp.Reload)
	require.Empty(t, hp.Enable)
}

// TestRollback_AfterUninstallEnablesAndStarts: with nothing installed any
// more (uninstall without --purge), a rollback restores the units, enables
// them and starts them, and the target.
func TestRollback_AfterUninstallEnablesAndStarts(t *testing.T) {
	a := Actual{Current: "new", Releases: map[string]map[string]string{"old": {}, "new": {}},
		UnitFiles: map[string][]byte{}, Units: map[string]UnitState{}}
	hp, err := Rollback(rollbackInput(), a)
	require.NoError(t, err)
	require.Equal(t, []string{"api@0.service"}, startNames(hp))
	require.False(t, hp.Starts[0].Restart)
	require.ElementsMatch(t, []string{"demo.target", "gate.service", "api@0.service"}, hp.Enable)
	require.True(t, hp.StartTarget)
	require.Empty(t, hp.Orphans)
}
