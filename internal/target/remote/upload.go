package remote

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Upload copies the local file localPath to remotePath atomically (see
// WriteFile) and returns the bytes sent. When the host already has a file
// with the same SHA-256 nothing is sent and sent is 0; only its mode is
// corrected if needed. progress, when non-nil, is called as data goes out
// with the bytes sent so far and the file's size.
func (t *Target) Upload(ctx context.Context, localPath, remotePath string, mode fs.FileMode, progress func(done, total int64)) (sent int64, err error) {
	f, err := os.Open(localPath)
	if err != nil {
		return 0, fmt.Errorf("upload %s: %w", localPath, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("upload %s: %w", localPath, err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, &ctxReader{ctx: ctx, r: f}); err != nil {
		return 0, fmt.Errorf("upload %s: %w", localPath, err)
	}
	local := hex.EncodeToString(h.Sum(nil))

	remote, err := t.remoteSha256(ctx, remotePath)
	if err != nil {
		return 0, fmt.Errorf("upload %s: %w", localPath, err)
	}
	if remote == local {
		return 0, t.fixMode(ctx, remotePath, mode)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, fmt.Errorf("upload %s: %w", localPath, err)
	}
	var report func(int64)
	if progress != nil {
		total := fi.Size()
		report = func(done int64) { progress(done, total) }
	}
	return t.writeFile(ctx, remotePath, f, mode, report, true)
}

func (t *Target) fixMode(ctx context.Context, p string, mode fs.FileMode) error {
	fi, err := t.Stat(ctx, p)
	if err != nil {
		return err
	}
	if fi.Mode().Perm() == mode.Perm() {
		return nil
	}
	c, err := t.sftpClient(ctx)
	if err != nil {
		return err
	}
	if err := c.Chmod(p, mode.Perm()); err != nil {
		return t.fileErr("chmod", p, err)
	}
	return nil
}
