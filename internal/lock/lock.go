// Package lock is a per-host lease lock, agentless: a directory created
// with mkdir on the host (see scripts/prelude.sh for the protocol). One apply holds
// it for its whole run and refreshes it (Lease.Keep); a run that dies
// leaves a lease that expires after its TTL and is then taken over; a
// second run fails fast naming the holder, or waits with Options.Wait;
// `openim-deploy unlock` calls Break.
package lock

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/openimsdk/openim-deploy/internal/clock"
	"github.com/openimsdk/openim-deploy/internal/target"
)

// Errors that callers branch on.
var (
	// ErrHeld is wrapped by *HeldError: someone else holds a live lease.
	ErrHeld = errors.New("lock held")
	// ErrLost: our lease was broken or taken over (after it expired).
	// Work done under it is no longer exclusive.
	ErrLost = errors.New("lock lost")
)

// Defaults, and why:
//   - TTL 30 s: a killed apply blocks the next one for at most this long,
//     while refreshing every TTL/3 (10 s) survives two failed refreshes
//     (a slow or briefly dropped SSH connection) before the lease lapses.
//   - Poll 1 s while waiting: one SSH round trip per second is cheap, and
//     a waiting apply starts within a second of the lock being released.
const (
	DefaultTTL   = 30 * time.Second
	pollInterval = time.Second
)

// Clock is the seam for time, so tests run on fake time.
type Clock = clock.Clock

// Options tune Acquire.
type Options struct {
	// TTL is how long a lease lives without a refresh; 0 means DefaultTTL.
	// It is rounded up to whole seconds, the resolution of the host's clock.
	TTL time.Duration
	// Wait is how long to keep trying while the lock is held: 0 fails at
	// once (a second apply must fail fast, naming the holder).
	Wait time.Duration
	// Sudo runs the lock scripts through sudo, for a lock directory under
	// /var/lib owned by root.
	Sudo bool
	// Clock is the time source for Wait and Keep; nil means the real clock.
	Clock Clock
}

// Holder says who takes the lock: it is recorded in the lease for the next
// run's error message.
type Holder struct {
	User    string
	Host    string // the controller's hostname
	PID     int
	Command string // the subcommand, e.g. "apply"; never its arguments
}

// CurrentHolder describes this process running subcommand (its name as
// the command table knows it, "apply" or "releases list"). Only that name
// is recorded, never the command line: flags may come before the
// subcommand ("openim-deploy -var pw=S apply"), so any word of os.Args
// may be a secret, and the lease is shown to every later run.
func CurrentHolder(subcommand string) Holder {
	h := Holder{PID: os.Getpid(), User: os.Getenv("USER"), Command: subcommand}
	if u, err := user.Current(); err == nil {
		h.User = u.Username
	}
	h.Host, _ = os.Hostname()
	return h
}

// safeCommand reports whether a holder's command, read back from a host,
// is a subcommand name ("apply", "openim-deploy apply" from older
// versions): lower-case words only. Older versions recorded the first
// argument that did not start with "-", a -var value when flags came
// first ("openim-deploy pw=S"); such a lease is shown without it.
func safeCommand(c string) bool {
	if c == "" || len(c) > 64 {
		return false
	}
	for _, r := range c {
		if (r < 'a' || r > 'z') && r != ' ' && r != '-' {
			return false
		}
	}
	return true
}

// Info describes a lease as read from the host.
type Info struct {
	ID string
	Holder
	// Acquired and Expires are on the host's clock.
	Acquired time.Time
	Expires  time.Time
	// Remaining is Expires minus the host's clock when the lease was read:
	// free of controller clock skew. It is negative for a stale lease.
	Remaining time.Duration
	// Incomplete means the lease directory exists without its files: a run
	// is between creating it and writing them, or was killed right there.
	Incomplete bool
}

// String renders the holder for messages:
// "ops@laptop pid 4242 since 12:01:03 running `openim-deploy apply`, expires in 25s".
func (i Info) String() string {
	if i.Incomplete {
		return "an unfinished lease without holder information (run `openim-deploy unlock` if it persists)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s@%s pid %d", orUnknown(i.User), orUnknown(i.Host), i.PID)
	if !i.Acquired.IsZero() {
		fmt.Fprintf(&b, " since %s", i.Acquired.Local().Format("15:04:05"))
	}
	if i.Command != "" {
		// The lease records the subcommand; older ones the program too.
		fmt.Fprintf(&b, " running `%s`", "openim-deploy "+strings.TrimPrefix(i.Command, "openim-deploy "))
	}
	if i.Remaining > 0 {
		fmt.Fprintf(&b, ", expires in %s", i.Remaining.Round(time.Second))
	} else {
		fmt.Fprintf(&b, ", expired %s ago", (-i.Remaining).Round(time.Second))
	}
	return b.String()
}

func orUnknown(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

// HeldError reports a live lease held by someone else. It wraps ErrHeld.
type HeldError struct {
	Path   string
	Holder Info
}

func (e *HeldError) Error() string { return "locked by " + e.Holder.String() }

// Unwrap makes errors.Is(err, ErrHeld) true.
func (e *HeldError) Unwrap() error { return ErrHeld }

// wire is the info file's JSON.
type wire struct {
	ID       string `json:"id"`
	User     string `json:"user"`
	Host     string `json:"host"`
	PID      int    `json:"pid"`
	Command  string `json:"command"`
	Acquired int64  `json:"acquired,omitempty"`
	Expires  int64  `json:"expires,omitempty"`
}

// script builds the command for one of the constant scripts.
func script(s string, sudo bool, args ...string) target.Cmd {
	return target.Cmd{Args: append([]string{"sh", "-c", s, "sh"}, args...), Sudo: sudo}
}

func exitCode(err error) int {
	var ee *target.ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return -1
}

// checkPath refuses relative and unclean paths: the scripts derive
// tombstone names from the path and must stay in its parent directory.
func checkPath(p string) error {
	if !path.IsAbs(p) || path.Clean(p) != p || p == "/" {
		return fmt.Errorf("lock path %q: must be an absolute, clean path below /", p)
	}
	return nil
}

func newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b)
}

func ttlSeconds(d time.Duration) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

// parseShow reads the "show" block of a script: the host's clock, the
// expires file and the info JSON.
func parseShow(out []byte) (Info, error) {
	lines := bytes.SplitN(out, []byte("\n"), 3)
	if len(lines) < 2 {
		return Info{}, fmt.Errorf("lock: unexpected output %q", out)
	}
	now, err := strconv.ParseInt(string(bytes.TrimSpace(lines[0])), 10, 64)
	if err != nil {
		return Info{}, fmt.Errorf("lock: host clock %q: %w", lines[0], err)
	}
	var info Info
	exp, expErr := strconv.ParseInt(string(bytes.TrimSpace(lines[1])), 10, 64)
	var w wire
	if len(lines) < 3 || json.Unmarshal(bytes.TrimSpace(lines[2]), &w) != nil || expErr != nil {
		info.Incomplete = true
	}
	info.ID = w.ID
	info.Holder = Holder{User: w.User, Host: w.Host, PID: w.PID}
	if safeCommand(w.Command) {
		info.Command = w.Command
	}
	if w.Acquired > 0 {
		info.Acquired = time.Unix(w.Acquired, 0)
	}
	if expErr == nil { // the expires file, refreshed, wins over the info's copy
		info.Expires = time.Unix(exp, 0)
		info.Remaining = time.Duration(exp-now) * time.Second
	}
	return info, nil
}

// Read returns the lease at path, or nil and no error when there is none.
// It only observes the host. sudo is for a lock directory only root can read.
func Read(ctx context.Context, t target.Target, path string, sudo bool) (*Info, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	cmd := script(readScript, sudo, path)
	cmd.ReadOnly = true
	res, err := t.Run(ctx, cmd)
	if exitCode(err) == exitNotLocked {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read lock %s: %w", path, err)
	}
	info, err := parseShow(res.Stdout)
	return &info, err
}

// Break removes the lease at path whoever holds it, for
// `openim-deploy unlock`, and returns what it removed. With no lease there
// it returns nil and no error: unlocking an unlocked host is a no-op. The
// holder, if still running, finds out at its next refresh (ErrLost).
func Break(ctx context.Context, t target.Target, path string, sudo bool) (*Info, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	res, err := t.Run(ctx, script(breakScript, sudo, path))
	if exitCode(err) == exitNotLocked {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("break lock %s: %w", path, err)
	}
	info, err := parseShow(res.Stdout)
	return &info, err
}
