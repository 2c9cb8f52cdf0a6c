package remote_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/target/remote"
	"github.com/openimsdk/openim-deploy/internal/target/targettest"
)

// config is a hermetic Config for h: its key and known_hosts, no
// ssh_config, no agent.
func config(h *targettest.Host) remote.Config {
	return remote.Config{
		Name:           "im-1",
		Address:        "127.0.0.1",
		Port:           h.Port,
		User:           "root",
		Identity:       h.KeyPath,
		KnownHosts:     h.KnownHostsPath,
		SSHConfigFile:  "none",
		ConnectTimeout: 5 * time.Second,
		// Hermetic: the machine's /etc/ssh/ssh_known_hosts is not read.
		GlobalKnownHosts: []string{},
	}
}

func dial(t *testing.T, cfg remote.Config) *remote.Target {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tg, err := remote.Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { tg.Close() })
	return tg
}

func TestConformance(t *testing.T) {
	targettest.Suite(t, func(t *testing.T) target.Target {
		return dial(t, config(targettest.NewHost(t)))
	})
}

func TestString(t *testing.T) {
	h := targettest.NewHost(t)
	tg := dial(t, config(h))
	if got, want := tg.String(), "im-1 ("+h.Addr+")"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if tg.Name() != "im-1" {
		t.Errorf("Name() = %q", tg.Name())
	}
	if err := tg.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	_ = tg.Close() // twice is fine
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func isUnreachable(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, target.ErrUnreachable) {
		t.Fatalf("err = %v, want it to wrap target.ErrUnreachable", err)
	}
}
