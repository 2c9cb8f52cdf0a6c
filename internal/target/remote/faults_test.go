package remote_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/target/remote"
	"github.com/openimsdk/openim-deploy/internal/target/targettest"
)

// bastionPair returns a config for tgt reached through bastion, with one
// identity and one known_hosts file holding both hosts.
func bastionPair(t *testing.T) (cfg remote.Config, bastion, tgt *targettest.Host) {
	bastion, tgt = targettest.NewHost(t), targettest.NewHost(t)
	tgt.Authorize(bastion.ClientKey.PublicKey())
	kh := filepath.Join(t.TempDir(), "known_hosts")
	lines := bastion.KnownHostsLine() + "\n" + tgt.KnownHostsLine() + "\n"
	if err := os.WriteFile(kh, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg = config(tgt)
	cfg.Identity, cfg.KnownHosts = bastion.KeyPath, kh
	cfg.Jump = &remote.Config{Name: "jump", Address: "127.0.0.1", Port: bastion.Port, User: "root"}
	return cfg, bastion, tgt
}

func TestBastion(t *testing.T) {
	cfg, bastion, tgt := bastionPair(t)
	tg := dial(t, cfg)
	res, err := tg.Run(ctxT(t), target.Cmd{Args: []string{"echo", "via", "jump"}})
	if err != nil || string(res.Stdout) != "via jump\n" {
		t.Fatalf("Run = %q, %v", res.Stdout, err)
	}
	if got := tgt.Commands(); len(got) != 1 || got[0] != "echo via jump" {
		t.Errorf("target ran %q", got)
	}
	if got := bastion.Commands(); len(got) != 0 {
		t.Errorf("bastion ran %q; it should only forward", got)
	}
	if err := tg.WriteFile(ctxT(t), "/f", strings.NewReader("x"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestBastionBadKeyNamesHop(t *testing.T) {
	cfg, bastion, _ := bastionPair(t)
	bastion.RotateHostKey()
	_, err := remote.Dial(ctxT(t), cfg)
	if !errors.Is(err, target.ErrHostKeyMismatch) {
		t.Fatalf("err = %v, want ErrHostKeyMismatch", err)
	}
	isUnreachable(t, err)
	if want := fmt.Sprintf("via bastion jump (%s)", bastion.Addr); !strings.Contains(err.Error(), want) {
		t.Errorf("error does not name the bastion hop %q: %v", want, err)
	}
}

func TestBastionTargetKeyChecked(t *testing.T) {
	cfg, _, tgt := bastionPair(t)
	tgt.RotateHostKey()
	_, err := remote.Dial(ctxT(t), cfg)
	if !errors.Is(err, target.ErrHostKeyMismatch) || strings.Contains(err.Error(), "via bastion") {
		t.Fatalf("err = %v, want a mismatch on the target hop", err)
	}
}

func TestSSHConfig(t *testing.T) {
	cfg, bastion, tgt := bastionPair(t)
	sshConfig := filepath.Join(t.TempDir(), "config")
	conf := fmt.Sprintf(`Host jumpbox
  HostName 127.0.0.1
  Port %d
Host im-*
  HostName 127.0.0.1
  Port %d
  User deploy
  ProxyJump jumpbox
Host *
  IdentityFile %s
`, bastion.Port, tgt.Port, bastion.KeyPath)
	if err := os.WriteFile(sshConfig, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	tg := dial(t, remote.Config{Name: "im-1", Address: "im-1", KnownHosts: cfg.KnownHosts, SSHConfigFile: sshConfig})
	if got, want := tg.String(), "im-1 ("+tgt.Addr+")"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if _, err := tg.Run(ctxT(t), target.Cmd{Args: []string{"true"}}); err != nil {
		t.Fatal(err)
	}
}

func TestDroppedUploadLeavesDestination(t *testing.T) {
	h := targettest.NewHost(t)
	tg := dial(t, config(h))
	ctx := ctxT(t)
	if err := tg.WriteFile(ctx, "/bin.dat", strings.NewReader("old"), 0o755); err != nil {
		t.Fatal(err)
	}
	h.DropAfterBytes(100 << 10)
	big := make([]byte, 2<<20)
	_, _ = rand.Read(big)
	err := tg.WriteFile(ctx, "/bin.dat", bytes.NewReader(big), 0o755)
	if err == nil {
		t.Fatal("upload over a dropped connection succeeded")
	}
	isUnreachable(t, err)
	if got, err := os.ReadFile(h.Path("/bin.dat")); err != nil || string(got) != "old" {
		t.Fatalf("destination after a dropped upload: %.20q, %v", got, err)
	}
	entries, _ := os.ReadDir(h.Root)
	for _, e := range entries {
		if e.Name() != "bin.dat" && !strings.HasPrefix(e.Name(), ".bin.dat.openim-deploy-") {
			t.Errorf("unexpected file %s", e.Name())
		}
	}
	// The connection is gone: later calls fail as unreachable, not hang,
	// and say why in words (not a bare "EOF").
	_, err = tg.Run(ctx, target.Cmd{Args: []string{"true"}})
	isUnreachable(t, err)
	if !strings.Contains(err.Error(), "open session: connection lost") {
		t.Errorf("a command on a dropped connection: %v; want it to say the connection was lost", err)
	}
}

func TestUploadSkipsWhenSame(t *testing.T) {
	h := targettest.NewHost(t)
	tg := dial(t, config(h))
	ctx := ctxT(t)
	src := filepath.Join(t.TempDir(), "openim-api")
	data := bytes.Repeat([]byte("binary"), 100_000)
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var last, total int64
	sent, err := tg.Upload(ctx, src, "/openim-api", 0o755, func(done, tot int64) { last, total = done, tot })
	if err != nil || sent != int64(len(data)) {
		t.Fatalf("first upload: sent %d, %v", sent, err)
	}
	if last != int64(len(data)) || total != int64(len(data)) {
		t.Errorf("progress ended at %d/%d", last, total)
	}
	if got, _ := os.ReadFile(h.Path("/openim-api")); !bytes.Equal(got, data) {
		t.Fatal("uploaded content differs")
	}
	if err := os.Chmod(h.Path("/openim-api"), 0o700); err != nil {
		t.Fatal(err)
	}
	sent, err = tg.Upload(ctx, src, "/openim-api", 0o755, nil)
	if err != nil || sent != 0 {
		t.Fatalf("second upload: sent %d, %v; want a skip", sent, err)
	}
	if fi, _ := os.Stat(h.Path("/openim-api")); fi.Mode().Perm() != 0o755 {
		t.Errorf("skipped upload left mode %v", fi.Mode().Perm())
	}
}

func TestNoSha256sumFallsBack(t *testing.T) {
	notFound := func(_ context.Context, args []string, _ io.Reader, _, stderr io.Writer) int {
		fmt.Fprintf(stderr, "sh: 1: %s: not found\n", args[0])
		return 127
	}
	h := targettest.NewHost(t, targettest.WithCommand("sha256sum", notFound))
	tg := dial(t, config(h))
	src := filepath.Join(t.TempDir(), "bin")
	if err := os.WriteFile(src, []byte("payload"), 0o600); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int64{7, 0} {
		if sent, err := tg.Upload(ctxT(t), src, "/bin", 0o755, nil); err != nil || sent != want {
			t.Fatalf("upload %d: sent %d, %v; want %d", i, sent, err, want)
		}
	}
}

func TestExitMissingIsUnknownOutcome(t *testing.T) {
	h := targettest.NewHost(t)
	tg := dial(t, config(h))
	h.DropSessions(true)
	_, err := tg.Run(ctxT(t), target.Cmd{Args: []string{"true"}})
	if !errors.Is(err, target.ErrUnknownOutcome) {
		t.Fatalf("err = %v, want ErrUnknownOutcome", err)
	}
	var ee *target.ExitError
	if errors.As(err, &ee) {
		t.Fatal("unknown outcome reported as an exit status")
	}
}

func TestSudo(t *testing.T) {
	needsPassword := func(_ context.Context, _ []string, _ io.Reader, _, stderr io.Writer) int {
		fmt.Fprintln(stderr, "sudo: a password is required")
		return 1
	}
	h := targettest.NewHost(t, targettest.WithCommand("sudo", needsPassword))
	cfg := config(h)
	cfg.User, cfg.Become = "deploy", true
	tg := dial(t, cfg)
	ctx := ctxT(t)
	_, err := tg.Run(ctx, target.Cmd{Args: []string{"systemctl", "daemon-reload"}, Sudo: true})
	if !errors.Is(err, target.ErrSudoPassword) {
		t.Fatalf("err = %v, want ErrSudoPassword", err)
	}
	var ee *target.ExitError
	if !errors.As(err, &ee) || ee.Code != 1 {
		t.Fatalf("err = %v, want it to carry the *ExitError", err)
	}
	if _, err := tg.Run(ctx, target.Cmd{Args: []string{"true"}, Env: []string{"A=b c"}}); err != nil {
		t.Fatal(err)
	}
	root := dial(t, config(h)) // root: Sudo needs no prefix
	if _, err := root.Run(ctx, target.Cmd{Args: []string{"true"}, Sudo: true}); err != nil {
		t.Fatal(err)
	}
	want := []string{"sudo -n -- systemctl daemon-reload", "env 'A=b c' true", "true"}
	if got := h.Commands(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("commands = %q, want %q", got, want)
	}
}

func TestDialContext(t *testing.T) {
	h := targettest.NewHost(t)
	tg := dial(t, config(h))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.WriteString(c, "hello from the host's loopback")
	}()
	c, err := tg.DialContext(ctxT(t), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "hello from the host's loopback" {
		t.Fatalf("read %q, %v", b, err)
	}
}

func TestFailedWriteCleansUp(t *testing.T) {
	h := targettest.NewHost(t)
	tg := dial(t, config(h))
	ctx := ctxT(t)
	if err := tg.WriteFile(ctx, "/a", strings.NewReader("ok"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := tg.WriteFile(ctx, "/a", io.MultiReader(strings.NewReader("part"), errReader{}), 0o644); err == nil {
		t.Fatal("write from a failing reader succeeded")
	}
	entries, _ := os.ReadDir(h.Root)
	if len(entries) != 1 || entries[0].Name() != "a" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("files left behind: %q", names)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("source broke") }

// TestFullDiskUploadSaysNoSpace: a write refused with a bare SSH_FX_FAILURE
// (what OpenSSH's sftp-server sends for ENOSPC) on a filesystem df reports
// full is reported as "no space left on device"; the destination keeps its
// old content, the temp file is removed, and the host is not unreachable.
// With room left, the same refusal is not blamed on the disk.
func TestFullDiskUploadSaysNoSpace(t *testing.T) {
	for _, tc := range []struct {
		avail string
		full  bool
	}{{"0", true}, {"5000", false}} {
		df := func(_ context.Context, _ []string, _ io.Reader, stdout, _ io.Writer) int {
			fmt.Fprintf(stdout, "Filesystem 1024-blocks Used Available Capacity Mounted on\ntmpfs 9000 4000 %s 45%% /\n", tc.avail)
			return 0
		}
		h := targettest.NewHost(t, targettest.WithCommand("df", df))
		tg := dial(t, config(h))
		ctx := ctxT(t)
		if err := tg.WriteFile(ctx, "/bin.dat", strings.NewReader("old"), 0o755); err != nil {
			t.Fatal(err)
		}
		h.FillDiskAfterBytes(100 << 10)
		big := make([]byte, 1<<20)
		_, _ = rand.Read(big)
		err := tg.WriteFile(ctx, "/bin.dat", bytes.NewReader(big), 0o755)
		if err == nil {
			t.Fatal("upload to a full disk succeeded")
		}
		if got := errors.Is(err, syscall.ENOSPC); got != tc.full {
			t.Errorf("avail %s: errors.Is(%v, ENOSPC) = %v, want %v", tc.avail, err, got, tc.full)
		}
		if tc.full && !strings.Contains(err.Error(), "no space left on device") {
			t.Errorf("error does not say the disk is full: %v", err)
		}
		if errors.Is(err, target.ErrUnreachable) {
			t.Errorf("a full disk reported as unreachable: %v", err)
		}
		if got, err := os.ReadFile(h.Path("/bin.dat")); err != nil || string(got) != "old" {
			t.Fatalf("destination after a failed upload: %.20q, %v", got, err)
		}
		entries, _ := os.ReadDir(h.Root)
		for _, e := range entries {
			if strings.Contains(e.Name(), ".openim-deploy-") {
				t.Errorf("temp file %s left behind on a live connection", e.Name())
			}
		}
	}
}

// TestHostGoneMidCommandIsUnreachable: a host that goes away while a
// command runs (its sshd ends the session, then the connection, as a
// reboot does) is reported as an unknown outcome on an unreachable host,
// whichever of the two ends the client notices first.
func TestHostGoneMidCommandIsUnreachable(t *testing.T) {
	for range 5 {
		var h *targettest.Host
		gone := func(ctx context.Context, _ []string, _ io.Reader, _, _ io.Writer) int {
			h.Close()
			<-ctx.Done()
			return 0
		}
		h = targettest.NewHost(t, targettest.WithCommand("reboot-now", gone))
		tg := dial(t, config(h))
		_, err := tg.Run(ctxT(t), target.Cmd{Args: []string{"reboot-now"}})
		if !errors.Is(err, target.ErrUnknownOutcome) && !strings.Contains(err.Error(), "connection lost") {
			t.Fatalf("err = %v; want an unknown outcome or a lost connection", err)
		}
		isUnreachable(t, err)
	}
}
