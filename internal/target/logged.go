package target

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"time"
)

// Logged wraps t so that every command and file operation is logged to
// log at debug level, after it ends, with its duration and outcome. Commands
// are rendered by Cmd.String, so Cmd.Redact applies; redact, if not nil,
// hides further secrets (the playbook's) before anything is logged.
func Logged(t Target, log *slog.Logger, redact func(string) string) Target {
	if redact == nil {
		redact = func(s string) string { return s }
	}
	return &logged{t: t, log: log.With("host", t.Name()), redact: redact}
}

type logged struct {
	t      Target
	log    *slog.Logger
	redact func(string) string
}

var _ Target = (*logged)(nil)

func (l *logged) String() string { return l.t.String() }
func (l *logged) Name() string   { return l.t.Name() }
func (l *logged) Close() error   { return l.t.Close() }

// enabled reports whether debug lines are wanted at all: rendering and
// redacting a command (a whole read script, for every host) is most of
// what logging it costs.
func (l *logged) enabled() bool { return l.log.Enabled(context.Background(), slog.LevelDebug) }

func (l *logged) done(op, what string, start time.Time, err error) {
	if !l.enabled() {
		return
	}
	attrs := []any{"op", op, "cmd", l.redact(what), "took", time.Since(start).Round(time.Millisecond)}
	if err != nil {
		attrs = append(attrs, "err", l.redact(err.Error()))
	}
	l.log.Debug("remote", attrs...)
}

func (l *logged) Run(ctx context.Context, cmd Cmd) (Result, error) {
	start := time.Now()
	res, err := l.t.Run(ctx, cmd)
	if !l.enabled() {
		return res, err
	}
	if cmd.Sudo {
		l.done("run", "sudo "+cmd.String(), start, err)
	} else {
		l.done("run", cmd.String(), start, err)
	}
	return res, err
}

func (l *logged) Stream(ctx context.Context, cmd Cmd, stdout, stderr io.Writer) error {
	start := time.Now()
	if !l.enabled() {
		return l.t.Stream(ctx, cmd, stdout, stderr)
	}
	l.log.Debug("remote", "op", "stream start", "cmd", l.redact(cmd.String()))
	err := l.t.Stream(ctx, cmd, stdout, stderr)
	l.done("stream", cmd.String(), start, err)
	return err
}

func (l *logged) WriteFile(ctx context.Context, path string, r io.Reader, mode fs.FileMode) error {
	start := time.Now()
	err := l.t.WriteFile(ctx, path, r, mode)
	l.done("write", path, start, err)
	return err
}

// StageFile stages through the wrapped target (see Stager), logged.
func (l *logged) StageFile(ctx context.Context, path string, r io.Reader, mode fs.FileMode) error {
	start := time.Now()
	err := StageFile(ctx, l.t, path, r, mode)
	l.done("stage", path, start, err)
	return err
}

func (l *logged) ReadFile(ctx context.Context, path string) ([]byte, error) {
	start := time.Now()
	b, err := l.t.ReadFile(ctx, path)
	l.done("read", path, start, err)
	return b, err
}

func (l *logged) Stat(ctx context.Context, path string) (fs.FileInfo, error) {
	return l.t.Stat(ctx, path)
}

func (l *logged) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return l.t.DialContext(ctx, network, addr)
}

// The transport's optional capabilities pass through the log wrapper, so
// wrapping a target never changes what the run learns about the host: the
// user it logged in as, whether it uses sudo, whether sshd forwards TCP.

// User returns the wrapped target's login user, "" when it has none.
func (l *logged) User() string {
	if u, ok := l.t.(interface{ User() string }); ok {
		return u.User()
	}
	return ""
}

// UsesSudo reports the wrapped target's answer; see UsesSudo.
func (l *logged) UsesSudo() bool {
	if s, ok := l.t.(interface{ UsesSudo() bool }); ok {
		return s.UsesSudo()
	}
	return false
}

// TCPForwarding asks the wrapped target whether sshd forwards TCP; a
// target that cannot tell (local) says it does.
func (l *logged) TCPForwarding(ctx context.Context) error {
	if f, ok := l.t.(interface{ TCPForwarding(context.Context) error }); ok {
		return f.TCPForwarding(ctx)
	}
	return nil
}

// RoundTrip asks the wrapped target for its network round trip; a target
// that cannot measure one (local, fakes) returns errors.ErrUnsupported.
func (l *logged) RoundTrip(ctx context.Context) (time.Duration, error) {
	if r, ok := l.t.(interface {
		RoundTrip(context.Context) (time.Duration, error)
	}); ok {
		return r.RoundTrip(ctx)
	}
	return 0, errors.ErrUnsupported
}

// Park parks the wrapped target's connection when it has one to park.
func (l *logged) Park() { Park(l.t) }
