package remote_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/target/remote"
	"github.com/openimsdk/openim-deploy/internal/target/targettest"
	"golang.org/x/crypto/ssh"
)

func TestUnknownHostRefused(t *testing.T) {
	h := targettest.NewHost(t)
	cfg := config(h)
	cfg.KnownHosts = filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(cfg.KnownHosts, []byte("# empty\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := remote.Dial(ctxT(t), cfg)
	if !errors.Is(err, target.ErrHostKeyUnknown) || errors.Is(err, target.ErrHostKeyMismatch) {
		t.Fatalf("err = %v, want ErrHostKeyUnknown", err)
	}
	isUnreachable(t, err)
	if !strings.Contains(err.Error(), "--accept-new") || !strings.Contains(err.Error(), "SHA256:") {
		t.Errorf("error does not help the user: %v", err)
	}
	// A missing known_hosts file is the same as an empty one.
	cfg.KnownHosts = filepath.Join(t.TempDir(), "absent")
	if _, err := remote.Dial(ctxT(t), cfg); !errors.Is(err, target.ErrHostKeyUnknown) {
		t.Fatalf("missing known_hosts: err = %v", err)
	}
	if _, err := os.Stat(cfg.KnownHosts); !errors.Is(err, os.ErrNotExist) {
		t.Error("strict checking created the known_hosts file")
	}
}

func TestAcceptNewAppendsOneLine(t *testing.T) {
	h := targettest.NewHost(t)
	cfg := config(h)
	cfg.KnownHosts = filepath.Join(t.TempDir(), "ssh", "known_hosts") // dir created too
	cfg.AcceptNew = true

	// Concurrent first connections must record the host exactly once.
	const n = 4
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tg, err := remote.Dial(ctxT(t), cfg)
			if err == nil {
				tg.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(cfg.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), h.KnownHostsLine()+"\n"; got != want {
		t.Fatalf("known_hosts = %q, want %q", got, want)
	}

	// Now the host is on record: strict checking accepts it.
	cfg.AcceptNew = false
	tg := dial(t, cfg)
	if _, err := tg.Run(ctxT(t), target.Cmd{Args: []string{"true"}}); err != nil {
		t.Fatal(err)
	}
}

func TestAcceptNewKeepsOtherEntries(t *testing.T) {
	h := targettest.NewHost(t)
	other := targettest.NewHost(t)
	cfg := config(h)
	cfg.KnownHosts = filepath.Join(t.TempDir(), "known_hosts")
	// No trailing newline: the appended entry must still start a new line.
	if err := os.WriteFile(cfg.KnownHosts, []byte(other.KnownHostsLine()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.AcceptNew = true
	dial(t, cfg)
	b, _ := os.ReadFile(cfg.KnownHosts)
	if got, want := string(b), other.KnownHostsLine()+"\n"+h.KnownHostsLine()+"\n"; got != want {
		t.Fatalf("known_hosts = %q, want %q", got, want)
	}
}

func TestChangedKeyRefused(t *testing.T) {
	h := targettest.NewHost(t)
	h.RotateHostKey()
	cfg := config(h)
	cfg.AcceptNew = true // never overrides a key on record
	before, _ := os.ReadFile(cfg.KnownHosts)
	_, err := remote.Dial(ctxT(t), cfg)
	if !errors.Is(err, target.ErrHostKeyMismatch) {
		t.Fatalf("err = %v, want ErrHostKeyMismatch", err)
	}
	isUnreachable(t, err)
	if !strings.Contains(err.Error(), cfg.KnownHosts+":1") {
		t.Errorf("error does not name the known_hosts line: %v", err)
	}
	if !strings.Contains(err.Error(), ssh.FingerprintSHA256(h.HostKey())) {
		t.Errorf("error does not show the offered key: %v", err)
	}
	after, _ := os.ReadFile(cfg.KnownHosts)
	if string(before) != string(after) {
		t.Error("known_hosts changed after a mismatch")
	}
}

func TestHashedAndWildcardEntries(t *testing.T) {
	h := targettest.NewHost(t)
	fields := strings.Fields(h.KnownHostsLine())
	key := strings.Join(fields[1:], " ")
	for name, line := range map[string]string{
		"hashed":   hashed(t, "[127.0.0.1]:"+itoa(h.Port)) + " " + key,
		"wildcard": "[127.0.0.*]:" + itoa(h.Port) + " " + key,
	} {
		t.Run(name, func(t *testing.T) {
			cfg := config(h)
			cfg.KnownHosts = filepath.Join(t.TempDir(), "known_hosts")
			if err := os.WriteFile(cfg.KnownHosts, []byte(line+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			dial(t, cfg)
		})
	}
}

// TestHostKeyAlgorithmFromKnownHosts: the host also offers an ECDSA key,
// which x/crypto would otherwise prefer; known_hosts only has its ed25519
// key, so the client must ask for ed25519 (golang/go#29286).
func TestHostKeyAlgorithmFromKnownHosts(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	extra, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	h := targettest.NewHost(t, targettest.WithExtraHostKeys(extra))
	dial(t, config(h))
}

func TestStalledHostTimesOut(t *testing.T) {
	h := targettest.NewHost(t)
	h.Stall()
	cfg := config(h)
	cfg.ConnectTimeout = 300 * time.Millisecond
	start := time.Now()
	_, err := remote.Dial(ctxT(t), cfg)
	isUnreachable(t, err)
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Dial took %v with a 300ms budget", d)
	}
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no SSH handshake within") {
		t.Errorf("error does not say why: %v", err)
	}

	// Cancelling the caller's context stops a stalled handshake too.
	cfg.ConnectTimeout = time.Minute
	ctx, cancel := context.WithCancel(ctxT(t))
	go func() { time.AfterFunc(100*time.Millisecond, cancel) }()
	if _, err := remote.Dial(ctx, cfg); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Dial: err = %v", err)
	}
}

func TestRefusedAndBadKey(t *testing.T) {
	h := targettest.NewHost(t)
	cfg := config(h)
	cfg.Port = closedPort(t)
	_, err := remote.Dial(ctxT(t), cfg)
	isUnreachable(t, err)

	cfg = config(h)
	cfg.Identity = targettest.NewHost(t).KeyPath // a key h does not accept
	_, err = remote.Dial(ctxT(t), cfg)
	isUnreachable(t, err)
	if errors.Is(err, target.ErrHostKeyMismatch) || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Errorf("auth failure: %v", err)
	}
}

// TestGlobalKnownHosts pins that /etc/ssh/ssh_known_hosts-style system
// files are trusted as ssh trusts them, and that a key found there is
// not copied into the user's file.
func TestGlobalKnownHosts(t *testing.T) {
	h := targettest.NewHost(t)
	cfg := config(h)
	cfg.KnownHosts = filepath.Join(t.TempDir(), "absent")
	cfg.GlobalKnownHosts = []string{filepath.Join(t.TempDir(), "also-absent"), h.KnownHostsPath}
	cfg.AcceptNew = true
	tg := dial(t, cfg)
	tg.Close()
	if _, err := os.Stat(cfg.KnownHosts); !errors.Is(err, os.ErrNotExist) {
		t.Error("a key known system-wide was appended to the user's known_hosts")
	}
	// Without the system file the host is unknown, and the message names
	// every file that was looked in.
	cfg.GlobalKnownHosts = []string{filepath.Join(t.TempDir(), "other")}
	cfg.AcceptNew = false
	other := filepath.Join(t.TempDir(), "sys_known_hosts")
	if err := os.WriteFile(other, []byte("# nothing\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.GlobalKnownHosts = []string{other}
	_, err := remote.Dial(ctxT(t), cfg)
	if !errors.Is(err, target.ErrHostKeyUnknown) || !strings.Contains(err.Error(), other) {
		t.Fatalf("err = %v, want ErrHostKeyUnknown naming %s", err, other)
	}
}

// TestSSHConfigUserAndPort pins that ssh_config's User and Port apply when
// the inventory sets neither, and that the inventory wins when it does.
func TestSSHConfigUserAndPort(t *testing.T) {
	h := targettest.NewHost(t)
	sc := filepath.Join(t.TempDir(), "ssh_config")
	body := "Host flt-alias\n  HostName 127.0.0.1\n  Port " + strconv.Itoa(h.Port) + "\n  User deploy\n"
	if err := os.WriteFile(sc, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config(h)
	cfg.Address, cfg.Port, cfg.User, cfg.FallbackUser, cfg.SSHConfigFile = "flt-alias", 0, "", "root", sc
	tg := dial(t, cfg)
	defer tg.Close()
	if tg.User() != "deploy" || !strings.Contains(tg.String(), strconv.Itoa(h.Port)) {
		t.Errorf("ssh_config ignored: user %q, %s", tg.User(), tg)
	}
	cfg.User = "ops"
	tg2 := dial(t, cfg)
	defer tg2.Close()
	if tg2.User() != "ops" {
		t.Errorf("inventory user lost to ssh_config: %q", tg2.User())
	}
	// Neither sets it: the fallback, not the local user.
	cfg.User, cfg.SSHConfigFile, cfg.Address, cfg.Port = "", "none", "127.0.0.1", h.Port
	tg3 := dial(t, cfg)
	defer tg3.Close()
	if tg3.User() != "root" {
		t.Errorf("fallback user = %q, want root", tg3.User())
	}
}

// TestPoolRereadsChangedKnownHosts: a Pool parses known_hosts once for
// many connections, but never serves a stale copy: a key recorded by
// --accept-new through the pool, and a file rewritten by someone else
// (ssh-keygen -R, an editor) are both seen by the next connection.
func TestPoolRereadsChangedKnownHosts(t *testing.T) {
	a, b := targettest.NewHost(t), targettest.NewHost(t)
	b.Authorize(a.ClientKey.PublicKey())
	known := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(known, []byte(a.KnownHostsLine()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pool := remote.NewPool()
	dial := func(h *targettest.Host, acceptNew bool) error {
		cfg := config(h)
		cfg.Identity, cfg.KnownHosts, cfg.AcceptNew = a.KeyPath, known, acceptNew
		tg, err := pool.Dial(ctxT(t), cfg)
		if err == nil {
			tg.Close()
		}
		return err
	}
	if err := dial(a, false); err != nil {
		t.Fatal(err)
	}
	if err := dial(b, false); !errors.Is(err, target.ErrHostKeyUnknown) {
		t.Fatalf("b before it is recorded: err = %v, want ErrHostKeyUnknown", err)
	}
	if err := dial(b, true); err != nil {
		t.Fatalf("accept-new: %v", err)
	}
	if err := dial(b, false); err != nil {
		t.Fatalf("b after accept-new recorded it: %v", err)
	}
	// Someone else rewrites the file: a's entry now holds b's key.
	wrong := strings.Replace(b.KnownHostsLine(), "]:"+itoa(b.Port), "]:"+itoa(a.Port), 1)
	if err := os.WriteFile(known, []byte(wrong+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := dial(a, false); !errors.Is(err, target.ErrHostKeyMismatch) {
		t.Fatalf("a after its entry changed: err = %v, want ErrHostKeyMismatch", err)
	}
}
