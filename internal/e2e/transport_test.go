package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/cli"
	"github.com/openimsdk/openim-deploy/internal/lab"
	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/target/remote"
)

func dialLab(t *testing.T, l *lab.Lab, name string, mod func(*remote.Config)) (*remote.Target, error) {
	t.Helper()
	h := l.Host(t, name)
	cfg := remote.Config{Name: h.Name, Address: h.Address, Port: 22, User: "root",
		Identity: l.KeyPath, KnownHosts: l.KnownHostsPath, SSHConfigFile: "none", ConnectTimeout: 10 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	tg, err := remote.Dial(ctx, cfg)
	if err == nil {
		t.Cleanup(func() { _ = tg.Close() })
	}
	return tg, err
}

// TestPreflight pins pre-flight on real hosts: systemd hosts pass with their
// facts in the table; the host without systemd is refused with its init
// system named, and the exit code says pre-flight refused it.
func TestPreflight(t *testing.T) {
	parallelOn(t, "lab-1", "lab-2", "nosd-1")
	l := lab.Require(t)
	d := newDeploy(t, l, "e2epre", 20300, "lab-1", "lab-2")
	res := d.run("preflight")
	require.Equal(t, cli.ExitOK, res.Code)
	require.Contains(t, res.Out, "Debian GNU/Linux 12")
	require.Contains(t, res.Out, "systemd")

	nosd := newDeploy(t, l, "e2epre2", 20300, "lab-1", "nosd-1")
	res = nosd.run("preflight")
	require.Equal(t, cli.ExitPreflight, res.Code)
	require.Contains(t, res.Out, "[nosd-1] error: refused: init")
	require.Contains(t, res.Out, "sysvinit")

	// apply refuses the whole run: not even lab-1 is touched.
	res = nosd.run("apply")
	require.NotEqual(t, cli.ExitOK, res.Code)
	require.Contains(t, res.Out, "no host was changed")
	out, err := l.Exec(t, "lab-1", "sh", "-c", "test -e /opt/e2epre2 && echo present || echo absent")
	require.NoError(t, err)
	require.Equal(t, "absent", strings.TrimSpace(out))
}

// TestHostKeys pins strict host key checking on real sshd: an unknown host
// is refused, --accept-new records it so a strict connection then works, and
// a host whose key changed is refused naming the known_hosts line, even with
// --accept-new.
func TestHostKeys(t *testing.T) {
	l := lab.Require(t)
	empty := filepath.Join(t.TempDir(), "known_hosts")

	_, err := dialLab(t, l, "lab-1", func(c *remote.Config) { c.KnownHosts = empty })
	require.ErrorIs(t, err, target.ErrHostKeyUnknown)
	require.Contains(t, err.Error(), "accept-new")

	tg, err := dialLab(t, l, "lab-1", func(c *remote.Config) { c.KnownHosts = empty; c.AcceptNew = true })
	require.NoError(t, err)
	_ = tg.Close()
	recorded, err := os.ReadFile(empty)
	require.NoError(t, err)
	require.Equal(t, 1, strings.Count(string(recorded), "\n"), "one entry appended:\n%s", recorded)
	_, err = dialLab(t, l, "lab-1", func(c *remote.Config) { c.KnownHosts = empty })
	require.NoError(t, err, "strict connection after --accept-new")

	// Through the CLI: an unknown host is unreachable (exit 5), the message
	// says what to do.
	d := newDeploy(t, l, "e2ekeys", 20400, "lab-2")
	require.NoError(t, os.WriteFile(filepath.Join(d.dir, "inventory.hcl"),
		[]byte(strings.Replace(d.inventory(), l.KnownHostsPath, empty, 1)), 0o644))
	res := d.run("preflight")
	require.Equal(t, cli.ExitUnreachable, res.Code)
	require.Contains(t, res.Out, "--accept-new")
	require.Equal(t, cli.ExitOK, d.run("preflight", "--accept-new").Code)

	// A changed key is a hard error naming file:line, never trust-on-first-use.
	l.RegenerateHostKey(t, "lab-2")
	_, err = dialLab(t, l, "lab-2", func(c *remote.Config) { c.AcceptNew = true })
	require.ErrorIs(t, err, target.ErrHostKeyMismatch)
	require.Contains(t, err.Error(), l.KnownHostsPath+":")
}

// TestBastion pins the jump-host path: lab-2 is reached through lab-1, host
// keys are checked on both hops, and the target sees the bastion as its peer.
func TestBastion(t *testing.T) {
	l := lab.Require(t)
	jump := l.Host(t, "lab-1")
	tg, err := dialLab(t, l, "lab-2", func(c *remote.Config) {
		c.Jump = &remote.Config{Name: "jump", Address: jump.Address, Port: 22, User: "root",
			Identity: l.KeyPath, KnownHosts: l.KnownHostsPath, SSHConfigFile: "none"}
	})
	require.NoError(t, err)
	res, err := tg.Run(t.Context(), target.Cmd{Args: []string{"sh", "-c", `echo "$SSH_CONNECTION"`}})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(res.Stdout), jump.Address+" "),
		"lab-2 saw the connection from %q, not from the bastion %s", res.Stdout, jump.Address)

	// A bastion whose key is unknown is named as the failing hop.
	_, err = dialLab(t, l, "lab-2", func(c *remote.Config) {
		c.Jump = &remote.Config{Name: "jump", Address: jump.Address, Port: 22, User: "root",
			Identity: l.KeyPath, KnownHosts: filepath.Join(t.TempDir(), "none"), SSHConfigFile: "none"}
	})
	require.Error(t, err)
	require.Contains(t, err.Error(), "bastion jump")
}

// TestUpload50MB pins the upload contract on a real host: 50 MB arrive
// verified, a reader of the destination only ever sees the old or the new
// file whole, and uploading the same file again sends nothing.
func TestUpload50MB(t *testing.T) {
	l := lab.Require(t)
	tg, err := dialLab(t, l, "lab-3", nil)
	require.NoError(t, err)
	watcher, err := dialLab(t, l, "lab-3", nil)
	require.NoError(t, err)

	big := filepath.Join(t.TempDir(), "big.bin")
	data := make([]byte, 50<<20)
	_, err = rand.Read(data)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(big, data, 0o644))
	sum := sha256.Sum256(data)
	newSum := hex.EncodeToString(sum[:])

	const dst = "/var/tmp/openim-e2e-big.bin"
	old := []byte("the old file\n")
	oldSum := sha256.Sum256(old)
	require.NoError(t, tg.WriteFile(t.Context(), dst, bytes.NewReader(old), 0o644))
	t.Cleanup(func() { _, _ = l.Exec(t, "lab-3", "rm", "-f", dst) })

	// A reader loop on a second connection, bounded in count, while the
	// upload runs: every read is the old file or the new one, never a part.
	seen := map[string]int{}
	var mu sync.Mutex
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 500; i++ {
			select {
			case <-stop:
				return
			default:
			}
			s, err := target.Sha256(context.Background(), watcher, dst)
			mu.Lock()
			if err != nil {
				seen["error: "+err.Error()]++
			} else {
				seen[s]++
			}
			mu.Unlock()
		}
	}()
	sent, err := tg.Upload(t.Context(), big, dst, 0o644, nil)
	close(stop)
	wg.Wait()
	require.NoError(t, err)
	require.Equal(t, int64(len(data)), sent)
	for s := range seen {
		require.Contains(t, []string{hex.EncodeToString(oldSum[:]), newSum}, s, "a reader saw a partial file: %v", seen)
	}
	got, err := target.Sha256(t.Context(), tg, dst)
	require.NoError(t, err)
	require.Equal(t, newSum, got)

	sent, err = tg.Upload(t.Context(), big, dst, 0o644, nil)
	require.NoError(t, err)
	require.Zero(t, sent, "second upload of the same file must be skipped")
}
