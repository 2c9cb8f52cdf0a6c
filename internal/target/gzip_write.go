package target

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"sync"
)

// ErrNoGzip means the host lacks gzip (or sha256sum, which the check after
// decompressing needs): WriteFileGzip sent nothing worth keeping and the
// caller should send the file as it is (WriteFile) instead.
var ErrNoGzip = errors.New("gzip or sha256sum not found on the host")

// ErrGzipCut means the host's gzip -dc saw a stream that ended early or
// was corrupt: nothing was installed.
var ErrGzipCut = errors.New("compressed stream cut short or corrupt")

// Exit statuses of gzipWriteScript, each listed in its header.
const (
	gzipExitMissing = 3 // no gzip or sha256sum; stdin left unread
	gzipExitDest    = 4 // the destination is a directory, or its stale temp file stays
	gzipExitCut     = 5 // gzip -dc failed
	gzipExitVerify  = 6 // size or SHA-256 of the result differs
	gzipExitInstall = 7 // chmod or the rename failed
)

// gzipWriteScript decompresses stdin with the host's own gzip -dc into a
// temp file next to $1, checks its size ($3) and SHA-256 ($4), sets mode
// $2 and renames it over $1 (see scripts/gzip_write.sh).
//
//go:embed scripts/gzip_write.sh
var gzipWriteScript string

// WriteFileGzip replaces path on t with the file whose gzip stream is gz,
// decompressed on the host by its own gzip -dc, on one exec session (the
// stream follows the script on stdin). size and sha256 are what the
// decompressed file must be: the host checks both before the file is
// renamed into place, so path only ever holds the verified file, as with
// WriteFile. It returns the compressed bytes sent.
//
// It runs as the login user, like WriteFile. A host without gzip yields
// an error satisfying errors.Is(err, ErrNoGzip) before anything is
// written; a stream that ends early (the reader failed, the connection
// dropped) installs nothing and leaves at most a temp file that the next
// write of path removes.
func WriteFileGzip(ctx context.Context, t Target, path string, gz io.Reader, mode fs.FileMode, size int64, sha256 string) (int64, error) {
	src := &sentCounter{r: gz}
	_, err := t.Run(ctx, Cmd{
		Args: []string{"sh", "-c", gzipWriteScript, "openim-deploy-gz",
			path, fmt.Sprintf("%04o", mode.Perm()), strconv.FormatInt(size, 10), sha256},
		Env:   []string{"LC_ALL=C"},
		Stdin: src,
	})
	sent, readErr := src.result()
	return sent, gzipError(fmt.Sprintf("write %s on %s", path, t), err, readErr)
}

// gzipError is the error of a gzip script's run (nil when it succeeded),
// what it did named by what: its exit statuses as ErrNoGzip and
// ErrGzipCut, and a local read failure, which is what cut the stream,
// named first.
func gzipError(what string, err, readErr error) error {
	if err == nil {
		return nil
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		switch ee.Code {
		case gzipExitMissing:
			return fmt.Errorf("%s: %w", what, ErrNoGzip)
		case gzipExitCut:
			err = fmt.Errorf("%w: %w", ErrGzipCut, err)
		case gzipExitVerify:
			err = fmt.Errorf("verify: %w", err)
		}
	}
	return fmt.Errorf("%s: %w", what, errors.Join(readErr, err))
}

// sentCounter counts what the transport read from r and keeps the first
// read error that was not end of file. The transport reads from its own
// goroutine, hence the lock.
type sentCounter struct {
	r   io.Reader
	mu  sync.Mutex
	n   int64
	err error
}

func (c *sentCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.mu.Lock()
	c.n += int64(n)
	if err != nil && err != io.EOF && c.err == nil {
		c.err = fmt.Errorf("read the compressed stream: %w", err)
	}
	c.mu.Unlock()
	return n, err
}

func (c *sentCounter) result() (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n, c.err
}
