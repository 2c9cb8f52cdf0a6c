package phase

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"sync"
	"time"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/plan"
	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/ui"
)

// How release files are compressed, and what "auto" compresses. The
// figures behind them were measured on the bench's 2-core controller with
// the 8.9 MB stand-in (a Go binary); see docs/benchmarks.md, Compressed uploads.
const (
	// gzipLevel is BestSpeed: it makes the stand-in 59% of its size at
	// 118 MB/s on one core; DefaultCompression reaches 56% at 36 MB/s,
	// 3 points smaller for 3.3 times the CPU of a controller that also
	// encrypts every stream.
	gzipLevel = gzip.BestSpeed
	// autoMinSize: under "auto", smaller files go as they are. A unit, an
	// env file or a config saves a few KiB at most, and keeping them on
	// the plain path keeps their behaviour exactly as it was.
	autoMinSize = 1 << 20
	// autoSample is how much of a file "auto" compresses first to see
	// whether the rest is worth it: an archive or an image that is
	// already compressed is sent as it is after 256 KiB of work, not 300 MB.
	autoSample = 256 << 10
	// autoMaxRatio: under "auto" a file goes compressed only when its
	// sample, and then the whole file, shrink to at most 90%: below 10%
	// saved, the CPU on both ends costs more than the bytes.
	autoMaxRatio = 0.9
	// autoMinRTT: under "auto" a host whose SSH round trip is shorter is
	// on a local network, where the wire is faster than the host's own
	// gzip -dc (about 70-130 MB/s on the lab's hosts) and compressing only
	// adds work: measured (BenchmarkUploadLink), one 7 MB Go binary to one
	// host takes 0.05-0.10 s over SFTP and 0.39-0.47 s gzipped on
	// loopback, 0.74-0.76 s and 0.53-0.64 s on a 100 Mbit/s link with
	// 20 ms RTT. LAN and same-zone round trips are well under 1 ms, links
	// between sites or regions 10 ms and more.
	autoMinRTT = 5 * time.Millisecond
)

// gzipUploads sends release files gzip-compressed on an exec session
// (target.WriteFileGzip) when the playbook's compress setting says so. A
// file is compressed at most once per run, into a temp file on the
// controller, however many hosts receive it: on a 2-core controller, six
// hosts compressing the same binary at once would spend six times the
// CPU for the same bytes. Generated content (units, env files, secrets)
// is compressed as it streams and never written to the controller's disk.
type gzipUploads struct {
	mode config.Compress

	mu     sync.Mutex
	dir    string               // temp dir of compressed copies, made on first use
	copies map[string]*gzipCopy // by SHA-256 of the content
}

// gzipCopy is one file's compressed copy, made by the first host that
// needs it while the others wait on ready.
type gzipCopy struct {
	ready chan struct{}
	path  string // "" when the file is not worth compressing
	err   error
}

func newGzipUploads(mode config.Compress) *gzipUploads {
	if mode == "" {
		mode = config.CompressAuto // a Config built by hand
	}
	return &gzipUploads{mode: mode, copies: map[string]*gzipCopy{}}
}

// Close removes the compressed copies.
func (z *gzipUploads) Close() error {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.dir == "" {
		return nil
	}
	return os.RemoveAll(z.dir)
}

// wants reports whether a would be sent compressed to a host with gzip,
// before looking at its content.
func (z *gzipUploads) wants(a plan.Artifact) bool {
	switch z.mode {
	case config.CompressNever:
		return false
	case config.CompressAlways:
		return true
	}
	return a.Local != "" && a.Size >= autoMinSize
}

// forHost returns z for a host whose files may go compressed, nil for one
// whose files all go as they are: nothing qualifies, the host has no gzip
// (noted), or under "auto" the host is on a fast local link (its round
// trip under autoMinRTT; measured only when some file qualifies).
func (z *gzipUploads) forHost(ctx context.Context, r *Run, h *Host) *gzipUploads {
	if z == nil || z.mode == config.CompressNever || !slices.ContainsFunc(h.Plan.Uploads, z.wants) {
		return nil
	}
	if h.Facts.Gzip == "" {
		r.Out.Host(h.Config.Name, "no gzip on the host: files are sent uncompressed over SFTP")
		return nil
	}
	if z.mode == config.CompressAuto {
		// A target that cannot measure (a fake) is not known to be fast.
		if rt, ok := h.Target.(interface {
			RoundTrip(context.Context) (time.Duration, error)
		}); ok {
			if d, err := rt.RoundTrip(ctx); err == nil && d < autoMinRTT {
				r.Out.Verbose("[%s] round trip %s: a local link, files are sent as they are", h.Config.Name, d.Round(10*time.Microsecond))
				return nil
			}
		}
	}
	return z
}

// batch picks, among uploads, those that go compressed, as files to stage
// under dir on one exec session (target.StageFilesGzip), and returns the
// rest, which go as they are: not worth compressing, or z is nil.
//
// progress counts the compressed bytes as they go: the status line's total
// is the files' plain size, so it ends short of it when files compress.
func (z *gzipUploads) batch(ctx context.Context, uploads []plan.Artifact, dir string, progress *ui.Transfer) (gz []target.GzipFile, plain []plan.Artifact, err error) {
	for _, a := range uploads {
		if z == nil || !z.wants(a) {
			plain = append(plain, a)
			continue
		}
		open := func() (io.ReadCloser, error) { return streamGzip(a.Content), nil }
		if a.Builtin != nil {
			open = func() (io.ReadCloser, error) {
				b, err := a.Builtin()
				if err != nil {
					return nil, err
				}
				return streamGzip(b), nil
			}
		}
		if a.Local != "" {
			p, err := z.compressed(ctx, a)
			if err != nil {
				return nil, nil, err
			}
			if p == "" {
				plain = append(plain, a)
				continue
			}
			open = func() (io.ReadCloser, error) { return os.Open(p) }
		}
		gz = append(gz, target.GzipFile{Path: path.Join(dir, a.Rel), Mode: a.Mode, Size: a.Size,
			Open: func() (io.ReadCloser, error) {
				rc, err := open()
				if err != nil {
					return nil, err
				}
				return readCloser{progress.Reader(rc), rc}, nil
			}})
	}
	return gz, plain, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// compressed returns the path of a's compressed copy, making it if this
// is the first host to ask; "" means a goes as it is.
func (z *gzipUploads) compressed(ctx context.Context, a plan.Artifact) (string, error) {
	z.mu.Lock()
	c, ok := z.copies[a.SHA256]
	if !ok {
		c = &gzipCopy{ready: make(chan struct{})}
		z.copies[a.SHA256] = c
	}
	z.mu.Unlock()
	if !ok {
		// Local work bounded by the file's size: not cut short by ctx,
		// since other hosts may be waiting for it.
		c.path, c.err = z.compress(a)
		close(c.ready)
	}
	select {
	case <-c.ready:
		return c.path, c.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// compress writes a's compressed copy into the temp dir. Under "auto" it
// gives up ("" and no error) when the first autoSample bytes, or the whole
// file, do not shrink to autoMaxRatio.
func (z *gzipUploads) compress(a plan.Artifact) (string, error) {
	f, err := os.Open(a.Local)
	if err != nil {
		return "", err
	}
	defer f.Close()
	auto := z.mode == config.CompressAuto
	if auto {
		n, err := gzipSize(io.LimitReader(f, autoSample))
		if err != nil {
			return "", err
		}
		if float64(n) > autoMaxRatio*float64(min(a.Size, autoSample)) {
			return "", nil
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return "", err
		}
	}
	dir, err := z.tempDir()
	if err != nil {
		return "", err
	}
	out, err := os.CreateTemp(dir, "*.gz")
	if err != nil {
		return "", err
	}
	w, _ := gzip.NewWriterLevel(out, gzipLevel) // the level is a valid constant
	_, err = io.Copy(w, f)
	err = errors.Join(err, w.Close())
	fi, statErr := out.Stat()
	err = errors.Join(err, statErr, out.Close())
	if err == nil && auto && float64(fi.Size()) > autoMaxRatio*float64(a.Size) {
		err = errNotWorth
	}
	if err != nil {
		_ = os.Remove(out.Name())
		if err == errNotWorth {
			return "", nil
		}
		return "", fmt.Errorf("compress %s: %w", a.Local, err)
	}
	return out.Name(), nil
}

var errNotWorth = errors.New("does not compress enough")

func (z *gzipUploads) tempDir() (string, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.dir == "" {
		d, err := os.MkdirTemp("", "openim-deploy-gz-")
		if err != nil {
			return "", err
		}
		z.dir = d
	}
	return z.dir, nil
}

// gzipSize is the size of r's content compressed at gzipLevel.
func gzipSize(r io.Reader) (int64, error) {
	var n countWriter
	w, _ := gzip.NewWriterLevel(&n, gzipLevel)
	if _, err := io.Copy(w, r); err != nil {
		return 0, err
	}
	err := w.Close()
	return int64(n), err
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

// streamGzip compresses b as it is read. Closing the reader stops the
// compressing goroutine, whatever the transfer did.
func streamGzip(b []byte) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		w, _ := gzip.NewWriterLevel(pw, gzipLevel)
		_, err := w.Write(b)
		pw.CloseWithError(errors.Join(err, w.Close()))
	}()
	return pr
}
