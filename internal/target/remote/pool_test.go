package remote_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/target/remote"
	"github.com/openimsdk/openim-deploy/internal/target/targettest"
)

// TestPoolSharesBastion pins that many hosts dialled at once through one
// bastion make one connection to it, that each host still gets its own
// connection, and that the bastion connection closes with the last host.
func TestPoolSharesBastion(t *testing.T) {
	bastion := targettest.NewHost(t)
	const n = 12 // hosts, dialled all at once
	var lines strings.Builder
	lines.WriteString(bastion.KnownHostsLine() + "\n")
	hosts := make([]*targettest.Host, n)
	for i := range hosts {
		hosts[i] = targettest.NewHost(t)
		hosts[i].Authorize(bastion.ClientKey.PublicKey())
		lines.WriteString(hosts[i].KnownHostsLine() + "\n")
	}
	kh := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(kh, []byte(lines.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	pool := remote.NewPool()
	tgs := make([]*remote.Target, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Go(func() {
			cfg := config(h)
			cfg.Name = fmt.Sprintf("im-%d", i)
			cfg.Identity, cfg.KnownHosts = bastion.KeyPath, kh
			cfg.Jump = &remote.Config{Name: "jump", Address: "127.0.0.1", Port: bastion.Port, User: "root"}
			tgs[i], errs[i] = pool.Dial(ctxT(t), cfg)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("host %d: %v", i, err)
		}
	}
	if got := bastion.Connections(); got != 1 {
		t.Errorf("bastion accepted %d connections for %d hosts, want 1", got, n)
	}
	for i, tg := range tgs {
		res, err := tg.Run(ctxT(t), target.Cmd{Args: []string{"echo", tg.Name()}})
		if err != nil || string(res.Stdout) != tg.Name()+"\n" {
			t.Errorf("host %d: %q, %v", i, res.Stdout, err)
		}
		if got := hosts[i].Connections(); got != 1 {
			t.Errorf("host %d accepted %d connections", i, got)
		}
	}
	// Closing all but one keeps the bastion connection for the last.
	for _, tg := range tgs[1:] {
		tg.Close()
	}
	if _, err := tgs[0].Run(ctxT(t), target.Cmd{Args: []string{"true"}}); err != nil {
		t.Fatalf("last host after the others closed: %v", err)
	}
	tgs[0].Close()
	// A new dial after every user closed connects afresh.
	cfg := config(hosts[0])
	cfg.Identity, cfg.KnownHosts = bastion.KeyPath, kh
	cfg.Jump = &remote.Config{Name: "jump", Address: "127.0.0.1", Port: bastion.Port, User: "root"}
	again, err := pool.Dial(ctxT(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if got := bastion.Connections(); got != 2 {
		t.Errorf("bastion accepted %d connections, want 2 (the first was closed with its last host)", got)
	}
}
