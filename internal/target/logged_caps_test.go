package target_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/target/targettest"
)

// capable is a fake with the remote transport's optional capabilities.
type capable struct{ *targettest.Fake }

func (capable) User() string                        { return "deploy" }
func (capable) UsesSudo() bool                      { return true }
func (capable) TCPForwarding(context.Context) error { return errors.New("AllowTcpForwarding no") }

// TestLoggedKeepsCapabilities: the log wrapper must not hide what the
// transport knows (pre-flight's forwarding check and the sudo decision
// ask for these through interfaces).
func TestLoggedKeepsCapabilities(t *testing.T) {
	l := target.Logged(capable{targettest.NewFake("h")}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	require.Equal(t, "deploy", l.(interface{ User() string }).User())
	require.True(t, target.UsesSudo(l, "root", false))
	require.ErrorContains(t, l.(interface{ TCPForwarding(context.Context) error }).TCPForwarding(t.Context()), "AllowTcpForwarding no")
}
