package target_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/target/targettest"
)

type roundTripper struct{ *targettest.Fake }

func (roundTripper) RoundTrip(context.Context) (time.Duration, error) {
	return 7 * time.Millisecond, nil
}

// TestLoggedKeepsRoundTrip: compress = "auto" asks the transport for its
// round trip through the log wrapper; a target that cannot measure says
// so with errors.ErrUnsupported.
func TestLoggedKeepsRoundTrip(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	type rtt interface {
		RoundTrip(context.Context) (time.Duration, error)
	}
	d, err := target.Logged(roundTripper{targettest.NewFake("h")}, log, nil).(rtt).RoundTrip(t.Context())
	require.NoError(t, err)
	require.Equal(t, 7*time.Millisecond, d)
	_, err = target.Logged(targettest.NewFake("h"), log, nil).(rtt).RoundTrip(t.Context())
	require.True(t, errors.Is(err, errors.ErrUnsupported))
}
