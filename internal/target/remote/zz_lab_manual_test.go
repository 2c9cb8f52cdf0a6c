package remote_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/target/remote"
)

func TestLabManual(t *testing.T) {
	out := os.Getenv("LAB_OUT")
	if out == "" {
		t.Skip()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	tg, err := remote.Dial(ctx, remote.Config{Name: "lab-1", Address: "10.231.0.11", User: "root",
		Identity: filepath.Join(out, "id_ed25519"), KnownHosts: filepath.Join(out, "known_hosts"), SSHConfigFile: "none"})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	t.Logf("dial %v", time.Since(start))
	res, err := tg.Run(ctx, target.Cmd{Args: []string{"sh", "-c", "uname -a; systemctl is-system-running; id -u"}})
	t.Logf("run: %s %s %v", res.Stdout, res.Stderr, err)
	_, err = tg.Run(ctx, target.Cmd{Args: []string{"sh", "-c", "exit 3"}})
	t.Logf("exit: %v", err)
	data := make([]byte, 50<<20)
	rand.Read(data)
	src := filepath.Join(t.TempDir(), "big")
	os.WriteFile(src, data, 0o600)
	start = time.Now()
	n, err := tg.Upload(ctx, src, "/root/big.bin", 0o755, nil)
	t.Logf("upload %d %v in %v", n, err, time.Since(start))
	start = time.Now()
	n, err = tg.Upload(ctx, src, "/root/big.bin", 0o755, nil)
	t.Logf("upload again %d %v in %v", n, err, time.Since(start))
	got, err := tg.ReadFile(ctx, "/root/big.bin")
	t.Logf("readback equal=%v %v", bytes.Equal(got, data), err)
	fi, err := tg.Stat(ctx, "/root/big.bin")
	t.Logf("stat %v %v", fi.Mode(), err)
	cctx, ccancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer ccancel()
	start = time.Now()
	_, err = tg.Run(cctx, target.Cmd{Args: []string{"sleep", "30"}})
	t.Logf("cancel: %v after %v", err, time.Since(start))
	res, err = tg.Run(ctx, target.Cmd{Args: []string{"sh", "-c", "pgrep -x sleep || echo no-sleep-left"}})
	t.Logf("after cancel: %s %v", res.Stdout, err)
	_, err = tg.Run(ctx, target.Cmd{Args: []string{"cat", "/nope"}})
	t.Logf("missing: %v", err)
	res, err = tg.Run(ctx, target.Cmd{Args: []string{"printenv", "X"}, Env: []string{"X=a b'c"}})
	t.Logf("env: %q %v", res.Stdout, err)
	c, err := tg.DialContext(ctx, "tcp", "127.0.0.1:22")
	if err == nil {
		b := make([]byte, 20)
		n, _ := c.Read(b)
		t.Logf("direct-tcpip banner %q", b[:n])
		c.Close()
	} else {
		t.Logf("dial: %v", err)
	}
	tg.Run(ctx, target.Cmd{Args: []string{"rm", "-f", "/root/big.bin"}})
}
