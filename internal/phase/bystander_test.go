package phase

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBystanderIsSkippedNotFailed: a host with nothing placed that cannot
// be checked (unreachable, no systemd) is skipped: out of the run, said in
// the recap, not a failure. Once something changed on it, a failure is a
// failure like anywhere else.
func TestBystanderIsSkippedNotFailed(t *testing.T) {
	h := &Host{Bystander: true}
	h.Fail(OutcomeUnreachable, errors.New("no route"))
	o, err, _ := h.Result()
	require.Equal(t, OutcomeSkipped, o)
	require.EqualError(t, err, "no route")
	require.False(t, h.Usable())

	changed := &Host{Bystander: true}
	changed.Changed(1)
	changed.Fail(OutcomeFailed, errors.New("disable failed"))
	o, _, _ = changed.Result()
	require.Equal(t, OutcomeFailed, o)

	placed := &Host{}
	placed.Fail(OutcomeUnreachable, errors.New("no route"))
	o, _, _ = placed.Result()
	require.Equal(t, OutcomeUnreachable, o)
}
