package remote

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/pkg/sftp"
)

// sftpClient opens the SFTP subsystem on first use of each connection.
func (t *Target) sftpClient(ctx context.Context) (*sftp.Client, error) {
	l, err := t.conn(ctx)
	if err != nil {
		return nil, err
	}
	l.sftpMu.Lock()
	defer l.sftpMu.Unlock()
	if l.sftp != nil {
		return l.sftp, nil
	}
	c, err := sftp.NewClient(l.client)
	if err != nil {
		return nil, unreachable(fmt.Errorf("sftp on %s: %w", t, err))
	}
	l.sftp = c
	t.counters.session()
	return c, nil
}

// WriteFile replaces p atomically. See target.Target.
func (t *Target) WriteFile(ctx context.Context, p string, r io.Reader, mode fs.FileMode) error {
	_, err := t.writeFile(ctx, p, r, mode, nil, true)
	return err
}

// StageFile is WriteFile without the SHA-256 check on the host, which
// costs a session per file: for a caller that checks every file it staged
// in one command before anything uses them. See target.Stager.
func (t *Target) StageFile(ctx context.Context, p string, r io.Reader, mode fs.FileMode) error {
	_, err := t.writeFile(ctx, p, r, mode, nil, false)
	return err
}

// writeFile uploads r to a temp file next to p, fsyncs it, checks its
// SHA-256 on the host against what was sent (when verify), then renames it
// over p with posix-rename@openssh.com. On any failure the temp file is
// removed (when the connection still allows it) and p is untouched.
func (t *Target) writeFile(ctx context.Context, p string, r io.Reader, mode fs.FileMode, progress func(int64), verify bool) (int64, error) {
	c, err := t.sftpClient(ctx)
	if err != nil {
		return 0, err
	}
	dir, base := path.Split(p)
	if base == "" {
		return 0, fmt.Errorf("write %s on %s: not a file path", p, t)
	}
	tmp := dir + "." + base + ".openim-deploy-" + randomSuffix()
	f, err := c.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return 0, t.fileErr("write", p, err)
	}
	committed := false
	defer func() {
		if !committed {
			f.Close()
			_ = c.Remove(tmp)
		}
	}()
	// Set the final mode before any data arrives, so a secret written with
	// 0600 is never readable by others, not even while in flight.
	if err := f.Chmod(mode.Perm()); err != nil {
		return 0, t.fileErr("write", p, err)
	}
	h := sha256.New()
	src := io.TeeReader(&ctxReader{ctx: ctx, r: r, progress: progress}, h)
	n, err := f.ReadFromWithConcurrency(src, 0)
	if err != nil {
		return n, t.fileErr("write", p, t.explainWriteFailure(ctx, dir, errors.Join(ctx.Err(), err)))
	}
	if _, ok := c.HasExtension("fsync@openssh.com"); ok {
		if err := f.Sync(); err != nil {
			return n, t.fileErr("write", p, t.explainWriteFailure(ctx, dir, fmt.Errorf("fsync: %w", err)))
		}
	}
	if err := f.Close(); err != nil {
		return n, t.fileErr("write", p, t.explainWriteFailure(ctx, dir, err))
	}
	if verify {
		want := hex.EncodeToString(h.Sum(nil))
		got, err := t.remoteSha256(ctx, tmp)
		if err != nil {
			return n, fmt.Errorf("write %s on %s: verify: %w", p, t, err)
		}
		if got != want {
			return n, fmt.Errorf("write %s on %s: verify: sha256 on host is %s, sent %s", p, t, got, want)
		}
	}
	if err := c.PosixRename(tmp, p); err != nil {
		return n, t.fileErr("write", p, fmt.Errorf("rename into place: %w", err))
	}
	committed = true
	return n, nil
}

// explainWriteFailure adds the cause OpenSSH's sftp-server leaves out:
// it reports a write that failed with ENOSPC as a bare SSH_FX_FAILURE
// ("Failure"). When a write fails that way on a live connection and df
// says the filesystem of dir has no space left, the error also wraps
// syscall.ENOSPC, "no space left on device". Any other error, or a df that
// fails, leaves err as it is.
func (t *Target) explainWriteFailure(ctx context.Context, dir string, err error) error {
	var se *sftp.StatusError
	if !errors.As(err, &se) || se.FxCode() != sftp.ErrSSHFxFailure || t.lost() || ctx.Err() != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, derr := t.Run(dctx, target.Cmd{Args: []string{"df", "-Pk", "--", dir}})
	if derr != nil {
		return err
	}
	if avail, ok := dfAvailable(res.Stdout); ok && avail == 0 {
		return fmt.Errorf("%w (%w under %s)", err, syscall.ENOSPC, dir)
	}
	return err
}

// dfAvailable parses the Available column (KiB) of `df -Pk` output.
func dfAvailable(out []byte) (int64, bool) {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 2 {
		return 0, false
	}
	f := strings.Fields(lines[len(lines)-1])
	if len(f) < 6 {
		return 0, false
	}
	v, err := strconv.ParseInt(f[3], 10, 64)
	return v, err == nil
}

// exitNotFound is the shell's exit status for a command it cannot find.
const exitNotFound = 127

// remoteSha256 hashes p on the host with sha256sum (target.Sha256); if the
// host has no sha256sum it reads the file back over SFTP instead. A missing
// file yields "".
func (t *Target) remoteSha256(ctx context.Context, p string) (string, error) {
	if !t.lacksSum.Load() {
		sum, err := target.Sha256(ctx, t, p)
		var ee *target.ExitError
		if !errors.As(err, &ee) || ee.Code != exitNotFound {
			return sum, err
		}
		t.lacksSum.Store(true)
	}
	c, err := t.sftpClient(ctx)
	if err != nil {
		return "", err
	}
	f, err := c.Open(p)
	if err != nil {
		if err = t.fileErr("read", p, err); errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, &ctxReader{ctx: ctx, r: f}); err != nil {
		return "", t.fileErr("read", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ReadFile reads p over SFTP. See target.Target.
func (t *Target) ReadFile(ctx context.Context, p string) ([]byte, error) {
	c, err := t.sftpClient(ctx)
	if err != nil {
		return nil, err
	}
	f, err := c.Open(p)
	if err != nil {
		return nil, t.fileErr("read", p, err)
	}
	defer f.Close()
	b, err := io.ReadAll(&ctxReader{ctx: ctx, r: f})
	if err != nil {
		return nil, t.fileErr("read", p, err)
	}
	return b, nil
}

// Stat lstats p over SFTP. See target.Target.
func (t *Target) Stat(ctx context.Context, p string) (fs.FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := t.sftpClient(ctx)
	if err != nil {
		return nil, err
	}
	fi, err := c.Lstat(p)
	if err != nil {
		return nil, t.fileErr("stat", p, err)
	}
	return fi, nil
}

// fileErr wraps an SFTP error so that a missing file satisfies
// fs.ErrNotExist whatever form the status error took.
func (t *Target) fileErr(op, p string, err error) error {
	var se *sftp.StatusError
	if errors.As(err, &se) && se.FxCode() == sftp.ErrSSHFxNoSuchFile && !errors.Is(err, fs.ErrNotExist) {
		err = fmt.Errorf("%w: %w", fs.ErrNotExist, err)
	}
	return t.connErr(fmt.Errorf("%s %s on %s: %w", op, p, t, err))
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ctxReader stops a transfer once ctx is done and reports progress.
type ctxReader struct {
	ctx      context.Context
	r        io.Reader
	progress func(int64)
	n        int64
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	if n > 0 && c.progress != nil {
		c.n += int64(n)
		c.progress(c.n)
	}
	return n, err
}
