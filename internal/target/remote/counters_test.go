package remote_test

import (
	"bytes"
	"testing"

	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/target/remote"
	"github.com/openimsdk/openim-deploy/internal/target/targettest"
)

// TestCountersTallyConnectionsSessionsAndBytes pins the benchmark hook:
// one connection per Dial, one session per command and one for the SFTP
// subsystem however many files go through it, and bytes sent covering at
// least every byte uploaded.
func TestCountersTallyConnectionsSessionsAndBytes(t *testing.T) {
	h := targettest.NewHost(t)
	var c remote.Counters
	cfg := config(h)
	cfg.Counters = c.Host("im-1")
	tg := dial(t, cfg)
	ctx := ctxT(t)
	for range 2 {
		if _, err := tg.Run(ctx, target.Cmd{Args: []string{"true"}}); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.Host("im-1").Sessions.Load(); got != 2 {
		t.Errorf("Sessions after 2 commands = %d, want 2", got)
	}
	payload := bytes.Repeat([]byte("x"), 64<<10)
	for _, p := range []string{"/a", "/b"} {
		if err := tg.WriteFile(ctx, p, bytes.NewReader(payload), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hc := c.Host("im-1")
	if got := hc.Connections.Load(); got != 1 {
		t.Errorf("Connections = %d, want 1", got)
	}
	if got := hc.Sessions.Load(); got < 3 {
		t.Errorf("Sessions = %d, want at least 3 (2 commands + SFTP)", got)
	}
	if got := hc.BytesSent.Load(); got < int64(2*len(payload)) {
		t.Errorf("BytesSent = %d, want at least %d", got, 2*len(payload))
	}
	if names := c.Names(); len(names) != 1 || names[0] != "im-1" {
		t.Errorf("Names() = %v", names)
	}
}

// TestStageFileOpensNoSessionPerFile: staged files share the SFTP session
// and run no checking command; WriteFile runs one per file.
func TestStageFileOpensNoSessionPerFile(t *testing.T) {
	h := targettest.NewHost(t)
	var c remote.Counters
	cfg := config(h)
	cfg.Counters = c.Host("im-1")
	tg := dial(t, cfg)
	ctx := ctxT(t)
	for _, p := range []string{"/a", "/b", "/c"} {
		if err := target.StageFile(ctx, tg, p, bytes.NewReader([]byte("staged "+p)), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.Host("im-1").Sessions.Load(); got != 1 {
		t.Errorf("Sessions after staging 3 files = %d, want 1 (SFTP)", got)
	}
	got, err := tg.ReadFile(ctx, "/b")
	if err != nil || string(got) != "staged /b" {
		t.Errorf("ReadFile(/b) = %q, %v", got, err)
	}
	if err := tg.WriteFile(ctx, "/d", bytes.NewReader([]byte("checked")), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := c.Host("im-1").Sessions.Load(); got != 2 {
		t.Errorf("Sessions after one WriteFile more = %d, want 2 (its sha256sum)", got)
	}
}
