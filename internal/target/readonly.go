package target

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
)

// ReadOnly wraps t so that it can only observe the host: WriteFile and every
// Run whose Cmd is not marked ReadOnly fail with ErrReadOnly, before anything
// reaches the host. Gather and plan phases get targets wrapped this way, so
// `openim-deploy plan` provably never changes a host. Unlike a dry-run target
// that accepts writes silently, a write here is a bug and fails loudly.
func ReadOnly(t Target) Target {
	if ro, ok := t.(*readOnly); ok {
		return ro
	}
	return &readOnly{t: t}
}

type readOnly struct{ t Target }

var _ Target = (*readOnly)(nil)

func (r *readOnly) String() string { return r.t.String() }
func (r *readOnly) Name() string   { return r.t.Name() }
func (r *readOnly) Close() error   { return r.t.Close() }

func (r *readOnly) Run(ctx context.Context, cmd Cmd) (Result, error) {
	if !cmd.ReadOnly {
		return Result{}, fmt.Errorf("run %s: %w", cmd, ErrReadOnly)
	}
	return r.t.Run(ctx, cmd)
}

func (r *readOnly) Stream(ctx context.Context, cmd Cmd, stdout, stderr io.Writer) error {
	if !cmd.ReadOnly {
		return fmt.Errorf("stream %s: %w", cmd, ErrReadOnly)
	}
	return r.t.Stream(ctx, cmd, stdout, stderr)
}

func (r *readOnly) WriteFile(_ context.Context, path string, _ io.Reader, _ fs.FileMode) error {
	return fmt.Errorf("write %s: %w", path, ErrReadOnly)
}

func (r *readOnly) ReadFile(ctx context.Context, path string) ([]byte, error) {
	return r.t.ReadFile(ctx, path)
}

func (r *readOnly) Stat(ctx context.Context, path string) (fs.FileInfo, error) {
	return r.t.Stat(ctx, path)
}

func (r *readOnly) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return r.t.DialContext(ctx, network, addr)
}
