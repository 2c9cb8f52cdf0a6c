package ledger

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 12, 5, 7, 0, 0, 0, time.UTC)

func lines(es ...Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Line())
	}
	return out
}

// The scenario of the issue: v1 healthy, a crash-looping release rolled
// back by its first batch, v2 healthy. Previous of v2 is v1, never the
// crashed release between them, whatever the ids' order.
func TestPreviousSkipsAReleaseThatNeverServed(t *testing.T) {
	const v1, bad, v2 = "20261205T070000.000Z-aaaa", "20261205T071000.000Z-bbbb", "20261205T072000.000Z-cccc"
	h := History(Parse(lines(
		New(t0, Built, v1, nil),
		New(t0, Current, v1, map[string]string{"action": "apply"}),
		New(t0, Built, bad, nil),
		New(t0, Failed, bad, map[string]string{"units": "api@0.service"}),
		New(t0, RolledBack, bad, map[string]string{"to": v1}),
		New(t0, Built, v2, nil),
		New(t0, Current, v2, map[string]string{"from": v1}),
	)))
	all := func(string) bool { return true }
	prev, ok := h.Previous(v2, all)
	require.True(t, ok)
	require.Equal(t, v1, prev)
	require.False(t, h.Served(bad))
	require.True(t, h.HasFailed(bad))
	require.Equal(t, []string{"failed", "rolled back"}, h.Status(bad, v2))
	require.Equal(t, []string{"current"}, h.Status(v2, v2))
	require.Equal(t, []string{"served"}, h.Status(v1, v2))
}

// After a rollback to v1, "previous" is v2: rollback twice is an undo.
// A previous release that is no longer kept is skipped for the one before.
func TestPreviousFollowsTheOrderReleasesBecameCurrent(t *testing.T) {
	const a, b, c = "r-c", "r-b", "r-a" // ids in the reverse order of time: skew changes nothing
	h := History(Parse(lines(
		New(t0, Current, a, nil), New(t0, Current, b, nil), New(t0, Current, c, nil), New(t0, Current, b, nil),
	)))
	prev, ok := h.Previous(b, func(string) bool { return true })
	require.True(t, ok)
	require.Equal(t, c, prev)
	prev, ok = h.Previous(b, func(id string) bool { return id != c })
	require.True(t, ok)
	require.Equal(t, a, prev, "c is pruned: the one before it")
	_, ok = h.Previous(a, func(string) bool { return true })
	require.False(t, ok, "nothing was current before the first")
	_, ok = History(nil).Previous(a, func(string) bool { return true })
	require.False(t, ok, "no ledger: no history to go by")
}

func TestParseSkipsWhatIsNotAnEntry(t *testing.T) {
	es := Parse([]string{"", "garbage", "2026-12-05T07:00:00Z current", "not-a-time current r1",
		"2026-12-05T07:00:00Z current ../x", "2026-12-05T07:00:00Z current r1 from=r0 action=apply"})
	require.Len(t, es, 1)
	require.Equal(t, "r0", es[0].Fields["from"])
}

func TestLineKeepsValuesToOneWord(t *testing.T) {
	l := New(t0, Failed, "r1", map[string]string{"units": "a b\nc", "x": ""}).Line()
	require.Equal(t, "2026-12-05T07:00:00Z failed r1 units=a_b_c x=-", l)
}
