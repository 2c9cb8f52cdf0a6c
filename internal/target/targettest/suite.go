package targettest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openimsdk/openim-deploy/internal/target"
)

// Suite checks that a Target implementation behaves as the interface
// promises. newTarget returns a fresh target (with an empty, writable "/"
// for file tests) for each subtest; run it once per implementation:
//
//	targettest.Suite(t, func(t *testing.T) target.Target { return local.New("l", t.TempDir()) })
//
// Commands used: true, false, echo, printf, cat, sleep, printenv,
// sha256sum and sh -c with ";", "exit N" and ">&2" (all supported by Host's
// built-in interpreter).
func Suite(t *testing.T, newTarget func(t *testing.T) target.Target) {
	for _, tc := range suiteTests {
		t.Run(tc.name, func(t *testing.T) {
			tg := newTarget(t)
			t.Cleanup(func() { tg.Close() })
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			tc.fn(ctx, t, tg)
		})
	}
}

var suiteTests = []struct {
	name string
	fn   func(ctx context.Context, t *testing.T, tg target.Target)
}{
	{"ExitCodes", testExitCodes},
	{"StdoutAndQuoting", testStdout},
	{"Stderr", testStderr},
	{"Stdin", testStdin},
	{"ScriptWithStdin", testScriptStdin},
	{"LargeScript", testLargeScript},
	{"Env", testEnv},
	{"CancelMidCommand", testCancel},
	{"StreamOutputAndExit", testStream},
	{"StreamCancel", testStreamCancel},
	{"ConcurrentRuns", testConcurrent},
	{"WriteReadStat", testWriteRead},
	{"Permissions", testPermissions},
	{"AtomicOverwrite", testAtomicOverwrite},
	{"LargeFile", testLargeFile},
	{"MissingFile", testMissing},
	{"Sha256", testSha256},
}

func run(ctx context.Context, tg target.Target, args ...string) (target.Result, error) {
	return tg.Run(ctx, target.Cmd{Args: args})
}

func wantExit(t *testing.T, err error, code int) *target.ExitError {
	t.Helper()
	var ee *target.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("err = %v, want *target.ExitError with code %d", err, code)
	}
	if ee.Code != code {
		t.Fatalf("exit code = %d, want %d (%v)", ee.Code, code, err)
	}
	return ee
}

func testExitCodes(ctx context.Context, t *testing.T, tg target.Target) {
	if _, err := run(ctx, tg, "true"); err != nil {
		t.Fatalf("true: %v", err)
	}
	wantExit(t, func() error { _, err := run(ctx, tg, "false"); return err }(), 1)
	_, err := run(ctx, tg, "sh", "-c", "exit 3")
	wantExit(t, err, 3)
	_, err = run(ctx, tg, "openim-deploy-no-such-command")
	wantExit(t, err, 127)
}

func testStdout(ctx context.Context, t *testing.T, tg target.Target) {
	args := []string{"a b", "it's", "$HOME", "", "`id`", "x;y", "*"}
	res, err := run(ctx, tg, append([]string{"printf", `%s\0`}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(res.Stdout), strings.Join(args, "\x00")+"\x00"; got != want {
		t.Fatalf("stdout = %q, want %q: arguments were not passed verbatim", got, want)
	}
}

func testStderr(ctx context.Context, t *testing.T, tg target.Target) {
	res, err := run(ctx, tg, "sh", "-c", "echo out; echo oops >&2; exit 4")
	ee := wantExit(t, err, 4)
	if string(res.Stdout) != "out\n" || string(res.Stderr) != "oops\n" {
		t.Fatalf("stdout %q stderr %q", res.Stdout, res.Stderr)
	}
	if !strings.Contains(ee.Stderr, "oops") || !strings.Contains(ee.Error(), "oops") {
		t.Fatalf("ExitError does not carry stderr: %v", ee)
	}
	if ee.Cmd == "" {
		t.Fatal("ExitError.Cmd is empty")
	}
}

func testStdin(ctx context.Context, t *testing.T, tg target.Target) {
	data := bytes.Repeat([]byte("stdin line\n"), 50_000) // ~550 KB: more than a window
	res, err := tg.Run(ctx, target.Cmd{Args: []string{"cat"}, Stdin: bytes.NewReader(data)})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(res.Stdout, data) {
		t.Fatalf("cat echoed %d bytes, want %d", len(res.Stdout), len(data))
	}
}

func testEnv(ctx context.Context, t *testing.T, tg target.Target) {
	res, err := tg.Run(ctx, target.Cmd{Args: []string{"printenv", "OPENIM_X"}, Env: []string{"OPENIM_X=a b'c"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.Stdout); got != "a b'c\n" {
		t.Fatalf("printenv = %q", got)
	}
}

func testCancel(ctx context.Context, t *testing.T, tg target.Target) {
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := run(cctx, tg, "sh", "-c", "sleep 30; echo done")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("cancelled command returned after %v", d)
	}
	if _, err := run(ctx, tg, "true"); err != nil {
		t.Fatalf("target unusable after a cancelled command: %v", err)
	}
}

func testConcurrent(ctx context.Context, t *testing.T, tg target.Target) {
	const n = 12 // more than one SSH connection allows sessions at once
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := run(ctx, tg, "echo", strings.Repeat("x", i))
			if err == nil && string(res.Stdout) != strings.Repeat("x", i)+"\n" {
				err = errors.New("wrong output " + string(res.Stdout))
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

func testWriteRead(ctx context.Context, t *testing.T, tg target.Target) {
	if err := tg.WriteFile(ctx, "/suite.txt", strings.NewReader("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := tg.ReadFile(ctx, "/suite.txt")
	if err != nil || string(got) != "hello\n" {
		t.Fatalf("ReadFile = %q, %v", got, err)
	}
	fi, err := tg.Stat(ctx, "/suite.txt")
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != 6 || !fi.Mode().IsRegular() || fi.Name() != "suite.txt" {
		t.Fatalf("Stat = size %d mode %v name %q", fi.Size(), fi.Mode(), fi.Name())
	}
	fi, err = tg.Stat(ctx, "/")
	if err != nil || !fi.IsDir() {
		t.Fatalf("Stat(/) = %v, %v", fi, err)
	}
}

func testPermissions(ctx context.Context, t *testing.T, tg target.Target) {
	for _, mode := range []fs.FileMode{0o600, 0o640, 0o755, 0o444} {
		p := "/perm-" + mode.String()
		if err := tg.WriteFile(ctx, p, strings.NewReader("x"), mode); err != nil {
			t.Fatal(err)
		}
		fi, err := tg.Stat(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("mode of %s = %v, want %v", p, fi.Mode().Perm(), mode)
		}
	}
	// Overwriting changes the mode too: the new file replaces the old one.
	if err := tg.WriteFile(ctx, "/perm-"+fs.FileMode(0o600).String(), strings.NewReader("y"), 0o644); err != nil {
		t.Fatal(err)
	}
	if fi, err := tg.Stat(ctx, "/perm-"+fs.FileMode(0o600).String()); err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("after overwrite: %v, %v", fi, err)
	}
}

// failingReader returns n bytes, then an error, as a broken source would.
type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("source broke")
	}
	k := min(len(p), r.n)
	for i := range p[:k] {
		p[i] = 'N'
	}
	r.n -= k
	return k, nil
}

func testAtomicOverwrite(ctx context.Context, t *testing.T, tg target.Target) {
	if err := tg.WriteFile(ctx, "/atomic", strings.NewReader("v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := tg.WriteFile(ctx, "/atomic", strings.NewReader("version 2"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _ := tg.ReadFile(ctx, "/atomic"); string(got) != "version 2" {
		t.Fatalf("after overwrite: %q", got)
	}
	if err := tg.WriteFile(ctx, "/atomic", &failingReader{n: 100_000}, 0o644); err == nil {
		t.Fatal("WriteFile from a failing reader succeeded")
	}
	if got, _ := tg.ReadFile(ctx, "/atomic"); string(got) != "version 2" {
		t.Fatalf("a failed write changed the file: %.40q", got)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := tg.WriteFile(cctx, "/atomic", strings.NewReader("v3"), 0o644); err == nil {
		t.Fatal("WriteFile with a cancelled context succeeded")
	}
	if got, _ := tg.ReadFile(ctx, "/atomic"); string(got) != "version 2" {
		t.Fatalf("a cancelled write changed the file: %q", got)
	}
}

func testLargeFile(ctx context.Context, t *testing.T, tg target.Target) {
	data := make([]byte, 5<<20+123)
	_, _ = rand.Read(data)
	if err := tg.WriteFile(ctx, "/large.bin", bytes.NewReader(data), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := tg.ReadFile(ctx, "/large.bin")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, different from the %d written", len(got), len(data))
	}
	if fi, err := tg.Stat(ctx, "/large.bin"); err != nil || fi.Size() != int64(len(data)) {
		t.Fatalf("Stat = %v, %v", fi, err)
	}
}

func testMissing(ctx context.Context, t *testing.T, tg target.Target) {
	if _, err := tg.ReadFile(ctx, "/no/such/file"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile of a missing file: %v, want fs.ErrNotExist", err)
	}
	if _, err := tg.Stat(ctx, "/no-such-file"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat of a missing file: %v, want fs.ErrNotExist", err)
	}
	if err := tg.WriteFile(ctx, "/no-such-dir/x", strings.NewReader("x"), 0o644); err == nil {
		t.Error("WriteFile into a missing directory succeeded")
	}
	res, err := run(ctx, tg, "cat", "--", "/no/such/file")
	ee := wantExit(t, err, 1)
	if !strings.Contains(ee.Stderr, "No such file") || len(res.Stdout) != 0 {
		t.Errorf("cat of a missing file: %v, stdout %q", err, res.Stdout)
	}
}

func testSha256(ctx context.Context, t *testing.T, tg target.Target) {
	// A relative path: local targets run commands in their root, and the
	// test host maps paths under its root, so both name the same file.
	sum, err := target.Sha256(ctx, tg, "sum.bin")
	if err != nil || sum != "" {
		t.Fatalf("Sha256 of a missing file = %q, %v; want \"\", nil", sum, err)
	}
	data := []byte("checksum me\n")
	if err := tg.WriteFile(ctx, "sum.bin", bytes.NewReader(data), 0o644); err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(data)
	if sum, err = target.Sha256(ctx, tg, "sum.bin"); err != nil || sum != hex.EncodeToString(h[:]) {
		t.Fatalf("Sha256 = %q, %v; want %x", sum, err, h)
	}
}

var _ io.Reader = (*failingReader)(nil)

// testScriptStdin pins that a "sh -c" script, which transports send on
// stdin (target.WrapScript), still hands the caller's stdin to the script.
func testScriptStdin(ctx context.Context, t *testing.T, tg target.Target) {
	res, err := tg.Run(ctx, target.Cmd{Args: []string{"sh", "-c", "echo first; cat", "sh", "arg"}, Stdin: strings.NewReader("from stdin\n")})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.Stdout); got != "first\nfrom stdin\n" {
		t.Fatalf("stdout = %q", got)
	}
}

// testLargeScript runs a script longer than Linux allows for one argument
// (128 KiB): transports must not put the script on a command line.
func testLargeScript(ctx context.Context, t *testing.T, tg target.Target) {
	var b strings.Builder
	for b.Len() < 200<<10 {
		b.WriteString("echo x >&2\n")
	}
	b.WriteString("echo done")
	res, err := run(ctx, tg, "sh", "-c", b.String())
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.Stdout); got != "done\n" {
		t.Fatalf("stdout = %q", got)
	}
}

func testStream(ctx context.Context, t *testing.T, tg target.Target) {
	var out, errb bytes.Buffer
	err := tg.Stream(ctx, target.Cmd{Args: []string{"sh", "-c", "echo one; echo two; echo oops >&2; exit 3"}}, &out, &errb)
	ee := wantExit(t, err, 3)
	if out.String() != "one\ntwo\n" || errb.String() != "oops\n" {
		t.Fatalf("stdout %q stderr %q", out.String(), errb.String())
	}
	if !strings.Contains(ee.Stderr, "oops") {
		t.Fatalf("ExitError.Stderr = %q, want the command's stderr", ee.Stderr)
	}
	if err := tg.Stream(ctx, target.Cmd{Args: []string{"echo", "x"}, Stdin: strings.NewReader("")}, &out, &errb); !errors.Is(err, target.ErrStreamStdin) {
		t.Fatalf("Stream with stdin: err = %v, want ErrStreamStdin", err)
	}
}

// firstWrite signals once the first byte arrives: output of a command that
// has not exited yet proves Stream does not buffer until the end.
type firstWrite struct {
	once sync.Once
	got  chan struct{}
}

func (w *firstWrite) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.got) })
	return len(p), nil
}

func testStreamCancel(ctx context.Context, t *testing.T, tg target.Target) {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := &firstWrite{got: make(chan struct{})}
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		done <- tg.Stream(cctx, target.Cmd{Args: []string{"sh", "-c", "echo started; sleep 60"}}, w, io.Discard)
	}()
	select {
	case <-w.got:
	case err := <-done:
		t.Fatalf("stream ended before cancel: %v", err)
	case <-ctx.Done():
		t.Fatal("no output before the command exited: Stream buffers")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("cancelled stream returned after %v", d)
	}
	if _, err := run(ctx, tg, "true"); err != nil {
		t.Fatalf("target unusable after a cancelled stream: %v", err)
	}
}
