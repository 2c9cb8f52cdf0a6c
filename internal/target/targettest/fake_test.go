package targettest

import (
	"bufio"
	"context"
	"errors"
	"io"
	"io/fs"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/target"
)

func TestFakeRun(t *testing.T) {
	ctx := context.Background()
	f := NewFake("im-1")
	f.On(Equal("systemctl daemon-reload"), Reply{})
	f.On(HasPrefix("systemctl is-active "), Reply{Stdout: "inactive\n", Code: 3})
	f.On(Regexp(`^cat /etc/os-release$`), Reply{Stdout: "ID=debian\n"})
	f.On(Contains("is-active openim-api"), Reply{Stdout: "active\n"}) // newer rule wins
	f.OnFunc(HasPrefix("tee "), func(cmd target.Cmd) (target.Result, error) {
		b, err := io.ReadAll(cmd.Stdin)
		return target.Result{Stdout: b}, err
	})

	if _, err := f.Run(ctx, target.Cmd{Args: []string{"systemctl", "daemon-reload"}, Sudo: true}); err != nil {
		t.Fatal(err)
	}
	res, err := f.Run(ctx, target.Cmd{Args: []string{"systemctl", "is-active", "openim-api"}})
	if err != nil || string(res.Stdout) != "active\n" {
		t.Fatalf("is-active api = %q, %v", res.Stdout, err)
	}
	res, err = f.Run(ctx, target.Cmd{Args: []string{"systemctl", "is-active", "other"}})
	ee, ok := errors.AsType[*target.ExitError](err)
	if !ok || ee.Code != 3 || ee.Host != "im-1" || string(res.Stdout) != "inactive\n" {
		t.Fatalf("is-active other = %q, %v", res.Stdout, err)
	}
	res, err = f.Run(ctx, target.Cmd{Args: []string{"tee", "/x y"}, Stdin: strings.NewReader("hello")})
	if err != nil || string(res.Stdout) != "hello" {
		t.Fatalf("tee = %q, %v", res.Stdout, err)
	}
	_, err = f.Run(ctx, target.Cmd{Args: []string{"systemctl", "enabel", "x"}})
	if !errors.Is(err, ErrDefault) || !strings.Contains(err.Error(), "systemctl enabel x") {
		t.Fatalf("unmatched: %v", err)
	}

	ReceivedMatch(t, f, `^systemctl daemon-reload$`)
	ReceivedSudo(t, f, `^systemctl daemon-reload$`)
	ReceivedContains(t, f, "'/x y'")
	NotReceivedContains(t, f, "rm -rf")
	NotReceivedMatch(t, f, `^reboot`)
	if got := f.Unexpected(); len(got) != 1 || got[0] != "systemctl enabel x" {
		t.Errorf("Unexpected() = %q", got)
	}
	calls := f.Calls()
	if len(calls) != 5 || string(calls[3].Stdin) != "hello" || !calls[0].Sudo || calls[1].Sudo {
		t.Errorf("Calls() = %+v", calls)
	}
	want := []string{"systemctl daemon-reload", "systemctl is-active openim-api", "systemctl is-active other", "tee '/x y'", "systemctl enabel x"}
	if got := f.Commands(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("Commands() = %q", got)
	}

	f.SetDefault(Reply{Stdout: "ok"})
	if res, err := f.Run(ctx, target.Cmd{Args: []string{"whatever"}}); err != nil || string(res.Stdout) != "ok" {
		t.Errorf("default = %q, %v", res.Stdout, err)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := f.Run(cctx, target.Cmd{Args: []string{"systemctl", "daemon-reload"}}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled run: %v", err)
	}
	if _, err := f.DialContext(ctx, "tcp", "127.0.0.1:1"); err == nil {
		t.Error("DialContext without dialer succeeded")
	}
	_ = f.Close()
	if _, err := f.Run(ctx, target.Cmd{Args: []string{"systemctl", "daemon-reload"}}); err == nil || !f.Closed() {
		t.Errorf("run after close: %v", err)
	}
}

func TestFakeFS(t *testing.T) {
	ctx := context.Background()
	f := NewFake("im-1")
	if err := f.WriteFile(ctx, "/opt/app/x", strings.NewReader("x"), 0o644); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("write without parent: %v", err)
	}
	if err := f.MkdirAll("/opt/app/releases/1", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := f.WriteFile(ctx, "/opt/app/releases/1/bin", strings.NewReader("ELF"), 0o755); err != nil {
		t.Fatal(err)
	}
	f.Symlink("releases/1", "/opt/app/current")
	if b, err := f.ReadFile(ctx, "/opt/app/current/bin"); err != nil || string(b) != "ELF" {
		t.Fatalf("read through a symlinked directory = %q, %v", b, err)
	}
	f.Symlink("loop", "/loop")
	if _, err := f.ReadFile(ctx, "/loop"); err == nil {
		t.Fatal("symlink loop read succeeded")
	}
	f.Symlink("releases/1/bin", "/opt/app/bin")
	if b, err := f.ReadFile(ctx, "/opt/app/bin"); err != nil || string(b) != "ELF" {
		t.Fatalf("read via symlink = %q, %v", b, err)
	}
	fi, err := f.Stat(ctx, "/opt/app/current")
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 || fi.Name() != "current" {
		t.Fatalf("lstat symlink = %v, %v", fi, err)
	}
	fi, err = f.Stat(ctx, "/opt/app/current/bin")
	if err != nil || fi.Mode() != 0o755 || fi.Size() != 3 {
		t.Fatalf("stat = %v, %v", fi, err)
	}
	if _, err := f.Stat(ctx, "/nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat missing: %v", err)
	}
	if _, err := f.ReadFile(ctx, "/nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("read missing: %v", err)
	}
	f.SetWriteError(func(p string) error {
		if p == "/opt/app/releases/1/bin" {
			return errors.New("disk full")
		}
		return nil
	})
	if err := f.WriteFile(ctx, "/opt/app/releases/1/bin", strings.NewReader("new"), 0o755); err == nil {
		t.Fatal("injected write error ignored")
	}
	f.AddFile("/etc/os-release", []byte("ID=debian\n"), 0o644)
	files := f.Files()
	if string(files["/opt/app/releases/1/bin"].Data) != "ELF" || !files["/etc"].Mode.IsDir() || files["/opt/app/current"].Link != "releases/1" {
		t.Errorf("Files() = %v", files)
	}
	f.Remove("/opt/app")
	if _, ok := f.Files()["/opt/app/releases/1/bin"]; ok || len(f.Paths()) != 5 {
		t.Errorf("after Remove: %q", f.Paths())
	}
}

func TestFakeConcurrent(t *testing.T) {
	ctx := context.Background()
	f := NewFake("im-1")
	f.On(Any(), Reply{})
	if err := f.MkdirAll("/d", 0o755); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 50 {
				_, _ = f.Run(ctx, target.Cmd{Args: []string{"true"}})
				_ = f.WriteFile(ctx, "/d/f", strings.NewReader("x"), 0o600)
				_, _ = f.ReadFile(ctx, "/d/f")
				_ = f.Files()
				_ = f.Commands()
				_ = i
			}
		})
	}
	wg.Wait()
	if n := len(f.Commands()); n != 400 {
		t.Errorf("recorded %d commands, want 400", n)
	}
}

// TestFake_Stream pins that Stream records the call like Run, plays a
// canned Reply whole, and passes a StreamFunc's writes through as made.
func TestFake_Stream(t *testing.T) {
	f := NewFake("im-1")
	f.On(Equal("journalctl -n 1"), Reply{Stdout: "a\n", Stderr: "warn\n"})
	f.On(HasPrefix("journalctl -f"), StreamFunc(func(ctx context.Context, _ target.Cmd, stdout, _ io.Writer) error {
		_, _ = io.WriteString(stdout, "first\n")
		<-ctx.Done()
		return ctx.Err()
	}))
	var out, errb strings.Builder
	require.NoError(t, f.Stream(t.Context(), target.Cmd{Args: []string{"journalctl", "-n", "1"}}, &out, &errb))
	require.Equal(t, "a\n", out.String())
	require.Equal(t, "warn\n", errb.String())

	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- f.Stream(ctx, target.Cmd{Args: []string{"journalctl", "-f"}}, pw, io.Discard) }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "first\n", line)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)

	err = f.Stream(t.Context(), target.Cmd{Args: []string{"rm", "-rf", "/"}}, io.Discard, io.Discard)
	require.ErrorIs(t, err, ErrDefault)
	require.Equal(t, []string{"journalctl -n 1", "journalctl -f", "rm -rf /"}, f.Commands())
	require.ErrorIs(t, f.Stream(t.Context(), target.Cmd{Args: []string{"x"}, Stdin: strings.NewReader("")}, io.Discard, io.Discard), target.ErrStreamStdin)
}
