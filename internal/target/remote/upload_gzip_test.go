package remote_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/target/remote"
	"github.com/openimsdk/openim-deploy/internal/target/targettest"
)

// realShell is a targettest interpreter that runs each exec request with
// the machine's own programs (sh, gzip, sha256sum, coreutils), so the
// gzip upload script is tested as a real host runs it. Paths are real
// paths: tests use absolute paths under t.TempDir(). A cancelled session
// (the client went away) kills the command's whole process group with
// SIGKILL, as a dying sshd session may: no shell trap gets to run.
type realShell struct {
	path   string        // PATH for commands; "" keeps the test's own
	reaped chan struct{} // receives once per finished command, when not nil
}

func (s *realShell) run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if s.reaped != nil {
		defer func() { s.reaped <- struct{}{} }()
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	if s.path != "" {
		cmd.Env = append(os.Environ(), "PATH="+s.path)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// Bounds how long a killed command's stdin copier may outlive it.
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return ee.ExitCode()
	case errors.As(err, &ee):
		return 137 // killed by a signal
	default:
		_, _ = io.WriteString(stderr, err.Error()+"\n")
		return 127
	}
}

// withoutGzip returns a PATH holding every program the upload script
// uses except gzip.
func withoutGzip(t *testing.T) string {
	dir := t.TempDir()
	for _, name := range []string{"env", "sh", "head", "rm", "wc", "tr", "sha256sum", "chmod", "sync", "mv", "cat"} {
		p, err := exec.LookPath(name)
		require.NoError(t, err)
		require.NoError(t, os.Symlink(p, filepath.Join(dir, name)))
	}
	return dir
}

// gzipFixture is a file to send: its content, gzip stream and SHA-256.
type gzipFixture struct {
	plain, gz []byte
	sum       string
}

// newGzipFixture builds n bytes that compress about as a Go binary does
// (text runs between random bytes), larger than the SSH channel window so
// the stream is sent in many pieces.
func newGzipFixture(t *testing.T, n int) gzipFixture {
	r := rand.New(rand.NewPCG(1, 2))
	var plain bytes.Buffer
	for plain.Len() < n {
		if r.IntN(2) == 0 {
			plain.WriteString("func main() { fmt.Println(\"openim\") }\n")
		} else {
			for range 64 {
				plain.WriteByte(byte(r.UintN(256)))
			}
		}
	}
	var gz bytes.Buffer
	w, err := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	require.NoError(t, err)
	_, err = w.Write(plain.Bytes())
	require.NoError(t, err)
	require.NoError(t, w.Close())
	h := sha256.Sum256(plain.Bytes())
	return gzipFixture{plain: plain.Bytes(), gz: gz.Bytes(), sum: hex.EncodeToString(h[:])}
}

// gzipLeftovers lists the upload temp files in dir.
func gzipLeftovers(t *testing.T, dir string) []string {
	m, err := filepath.Glob(filepath.Join(dir, ".*.openim-deploy-gz.*"))
	require.NoError(t, err)
	return m
}

func gzipHost(t *testing.T, sh *realShell) *remote.Target {
	h := targettest.NewHost(t, targettest.WithInterpreter(sh.run))
	return dial(t, config(h))
}

// TestWriteFileGzip: the file arrives byte-identical with its mode, in
// one exec session and no SFTP, and the compressed size is what is
// reported as sent.
func TestWriteFileGzip(t *testing.T) {
	sh := &realShell{}
	tg := gzipHost(t, sh)
	f := newGzipFixture(t, 3<<20)
	dir := t.TempDir()
	dst := filepath.Join(dir, "openim-api")
	sent, err := target.WriteFileGzip(ctxT(t), tg, dst, bytes.NewReader(f.gz), 0o750, int64(len(f.plain)), f.sum)
	require.NoError(t, err)
	require.Equal(t, int64(len(f.gz)), sent)
	require.Less(t, len(f.gz), len(f.plain)*3/4, "the fixture must compress")
	got, err := os.ReadFile(dst)
	require.NoError(t, err)
	require.True(t, bytes.Equal(f.plain, got), "content differs")
	fi, err := os.Stat(dst)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o750), fi.Mode().Perm())
	require.Empty(t, gzipLeftovers(t, dir))
}

// TestWriteFileGzipRefusesBadResult: a result whose SHA-256 or size is not
// the one announced is never renamed into place; the old file stays and
// no temp file is left.
func TestWriteFileGzipRefusesBadResult(t *testing.T) {
	f := newGzipFixture(t, 256<<10)
	for _, tt := range []struct {
		name string
		size int64
		sum  string
		want string
	}{
		{"sha256 mismatch", int64(len(f.plain)), hex.EncodeToString(make([]byte, 32)), "sha256 on host is " + f.sum},
		{"size mismatch", int64(len(f.plain)) + 1, f.sum, "size on host is"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tg := gzipHost(t, &realShell{})
			dir := t.TempDir()
			dst := filepath.Join(dir, "bin")
			require.NoError(t, os.WriteFile(dst, []byte("old"), 0o755))
			_, err := target.WriteFileGzip(ctxT(t), tg, dst, bytes.NewReader(f.gz), 0o755, tt.size, tt.sum)
			require.ErrorContains(t, err, "verify")
			require.ErrorContains(t, err, tt.want)
			got, err := os.ReadFile(dst)
			require.NoError(t, err)
			require.Equal(t, "old", string(got))
			require.Empty(t, gzipLeftovers(t, dir))
		})
	}
}

// failingReader yields r, then fails as a local disk read might.
type failingReader struct{ r io.Reader }

var errLocalRead = errors.New("local read failed")

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, errLocalRead
	}
	return n, err
}

// TestWriteFileGzipCutStream: a stream that ends early (the local reader
// failed halfway) makes the host's gzip -dc fail; nothing is installed,
// the old file stays, the temp file is removed, and the error names both
// the local failure and the cut stream.
func TestWriteFileGzipCutStream(t *testing.T) {
	f := newGzipFixture(t, 1<<20)
	tg := gzipHost(t, &realShell{})
	dir := t.TempDir()
	dst := filepath.Join(dir, "bin")
	require.NoError(t, os.WriteFile(dst, []byte("old"), 0o755))
	half := &failingReader{r: bytes.NewReader(f.gz[:len(f.gz)/2])}
	_, err := target.WriteFileGzip(ctxT(t), tg, dst, half, 0o755, int64(len(f.plain)), f.sum)
	require.ErrorIs(t, err, errLocalRead)
	require.ErrorIs(t, err, target.ErrGzipCut)
	got, err := os.ReadFile(dst)
	require.NoError(t, err)
	require.Equal(t, "old", string(got))
	require.Empty(t, gzipLeftovers(t, dir))
}

// cuttingReader sends the first n bytes of r, then closes the connection
// under the transfer, as a network failure would.
type cuttingReader struct {
	r    io.Reader
	n    int
	sent int
	cut  func()
}

func (c *cuttingReader) Read(p []byte) (int, error) {
	if c.sent >= c.n {
		c.cut()
		return 0, errors.New("connection cut")
	}
	p = p[:min(len(p), c.n-c.sent)]
	n, err := c.r.Read(p)
	c.sent += n
	return n, err
}

// TestWriteFileGzipConnectionLost: when the connection dies mid-transfer
// the host kills the command outright (no trap runs), so a truncated temp
// file may stay behind; it is never under the final name, and the next
// write of the same file removes it and installs the whole file.
func TestWriteFileGzipConnectionLost(t *testing.T) {
	f := newGzipFixture(t, 2<<20)
	sh := &realShell{reaped: make(chan struct{}, 4)}
	h := targettest.NewHost(t, targettest.WithInterpreter(sh.run))
	dir := t.TempDir()
	dst := filepath.Join(dir, "bin")

	tg := dial(t, config(h))
	cut := &cuttingReader{r: bytes.NewReader(f.gz), n: len(f.gz) / 2, cut: func() { tg.Close() }}
	_, err := target.WriteFileGzip(ctxT(t), tg, dst, cut, 0o755, int64(len(f.plain)), f.sum)
	require.Error(t, err)
	<-sh.reaped // the host has reaped the killed command
	_, err = os.Stat(dst)
	require.ErrorIs(t, err, os.ErrNotExist, "a cut transfer must not install anything")

	// Whatever the kill left, plus a leftover of an older cut run: both go.
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".bin.openim-deploy-gz.99999"), f.plain[:100], 0o600))
	tg2 := dial(t, config(h))
	_, err = target.WriteFileGzip(ctxT(t), tg2, dst, bytes.NewReader(f.gz), 0o755, int64(len(f.plain)), f.sum)
	require.NoError(t, err)
	got, err := os.ReadFile(dst)
	require.NoError(t, err)
	require.True(t, bytes.Equal(f.plain, got), "content differs")
	require.Empty(t, gzipLeftovers(t, dir))
}

// TestWriteFileGzipWithoutGzip: a host without gzip refuses before
// writing anything, with ErrNoGzip, so the caller can send over SFTP.
func TestWriteFileGzipWithoutGzip(t *testing.T) {
	f := newGzipFixture(t, 1<<20)
	tg := gzipHost(t, &realShell{path: withoutGzip(t)})
	dir := t.TempDir()
	dst := filepath.Join(dir, "bin")
	_, err := target.WriteFileGzip(ctxT(t), tg, dst, bytes.NewReader(f.gz), 0o755, int64(len(f.plain)), f.sum)
	require.ErrorIs(t, err, target.ErrNoGzip)
	_, err = os.Stat(dst)
	require.ErrorIs(t, err, os.ErrNotExist)
	require.Empty(t, gzipLeftovers(t, dir))
}

// TestRoundTrip: the keepalive round trip is measured without running a
// command on the host, and fails once the connection is gone.
func TestRoundTrip(t *testing.T) {
	h := targettest.NewHost(t)
	tg := dial(t, config(h))
	d, err := tg.RoundTrip(ctxT(t))
	require.NoError(t, err)
	require.Positive(t, d)
	require.Empty(t, h.Commands())
	tg.Close()
	_, err = tg.RoundTrip(ctxT(t))
	require.Error(t, err)
}
