package remote_test

import (
	"bytes"
	"errors"
	"net"
	"testing"

	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/target/remote"
	"github.com/openimsdk/openim-deploy/internal/target/targettest"
)

// TestParkClosesAndTheNextUseConnectsAgain: a parked target holds no
// connection, and the next command, file operation or tunnel connects
// again, once, as the first dial did; Close after Park is quiet and a
// closed target never connects again.
func TestParkClosesAndTheNextUseConnectsAgain(t *testing.T) {
	h := targettest.NewHost(t)
	var c remote.Counters
	cfg := config(h)
	cfg.Counters = c.Host("im-1")
	tg := dial(t, cfg)
	ctx := ctxT(t)
	hc := c.Host("im-1")
	if err := tg.WriteFile(ctx, "/before", bytes.NewReader([]byte("1")), 0o644); err != nil {
		t.Fatal(err)
	}
	tg.Park()
	tg.Park() // twice is once
	if got := hc.Connections.Load(); got != 1 {
		t.Fatalf("Connections after Park = %d, want 1 (parking dials nothing)", got)
	}
	// The SFTP client belonged to the closed connection: a new one is made.
	b, err := tg.ReadFile(ctx, "/before")
	if err != nil || string(b) != "1" {
		t.Fatalf("ReadFile after Park = %q, %v", b, err)
	}
	if _, err := tg.Run(ctx, target.Cmd{Args: []string{"true"}}); err != nil {
		t.Fatalf("Run after Park: %v", err)
	}
	if got := hc.Connections.Load(); got != 2 {
		t.Errorf("Connections after using a parked target = %d, want 2", got)
	}
	tg.Park()
	if err := tg.Close(); err != nil {
		t.Errorf("Close of a parked target: %v", err)
	}
	_, err = tg.Run(ctx, target.Cmd{Args: []string{"true"}})
	if !errors.Is(err, net.ErrClosed) {
		t.Errorf("Run after Close = %v, want net.ErrClosed", err)
	}
	if got := hc.Connections.Load(); got != 2 {
		t.Errorf("Connections after Close = %d, want 2 (a closed target never dials)", got)
	}
}
