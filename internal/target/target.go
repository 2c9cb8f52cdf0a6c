// Package target is the one seam between openim-deploy and a host: it runs
// commands and moves files, over SSH (package remote) or on this machine
// (package local). Everything that touches a host (systemd, osinfo, health,
// preflight, the apply phases) is written as plain functions over Target, so
// each of them can be tested against targettest.Fake or the in-process host.
package target

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"strings"
)

// Target runs commands on, and moves files to and from, one host.
// Methods are safe for concurrent use.
type Target interface {
	fmt.Stringer // "im-1 (10.0.0.11:22)": used as the log prefix

	// Name is the inventory name of the host ("im-1").
	Name() string

	// Run runs cmd and waits for it. A non-zero exit status is returned as
	// *ExitError together with the Result collected so far. A command whose
	// outcome is unknown (the connection dropped before an exit status came
	// back) is returned as an error wrapping ErrUnknownOutcome, never as success.
	Run(ctx context.Context, cmd Cmd) (Result, error)

	// Stream runs cmd and copies its output to stdout and stderr as it
	// arrives, for commands that run long or forever (journalctl -f). It
	// returns when the command exits (*ExitError for a non-zero status) or
	// when ctx ends; ending ctx ends the command on the host too (see
	// StreamScript). cmd.Stdin must be nil: the command's stdin is the
	// lifeline that tells it the caller went away. Writes to stdout and
	// stderr come from one goroutine each, never concurrently to one writer.
	Stream(ctx context.Context, cmd Cmd, stdout, stderr io.Writer) error

	// WriteFile replaces path atomically: a temp file in the same directory,
	// fsync, chmod, a check of its SHA-256, then rename over path. Readers of
	// path never see a half-written file. Parent directories must exist.
	// When cmd.Sudo-style privileges are needed the caller stages the file
	// itself (see Privileged); WriteFile always runs as the login user.
	WriteFile(ctx context.Context, path string, r io.Reader, mode fs.FileMode) error

	// ReadFile returns the content of path. A missing file is an error that
	// satisfies errors.Is(err, fs.ErrNotExist).
	ReadFile(ctx context.Context, path string) ([]byte, error)

	// Stat describes path without following a final symlink (lstat).
	// A missing file satisfies errors.Is(err, fs.ErrNotExist).
	Stat(ctx context.Context, path string) (fs.FileInfo, error)

	// DialContext opens a connection from the host's point of view: over SSH
	// it is a direct-tcpip channel, so "127.0.0.1:10002" is the host's own
	// loopback. Health probes use it, which keeps the tool agentless: no curl
	// or nc is needed on the host.
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)

	// Close releases the connection. Safe to call more than once.
	Close() error
}

// Cmd is an argument vector plus options. Targets quote Args with Quote;
// callers never build shell strings out of inventory or playbook values.
type Cmd struct {
	Args  []string
	Stdin io.Reader
	// Sudo runs the command through "sudo -n" when the target's login user is
	// not root. It is ignored when the login user is root.
	Sudo bool
	// Env is extra environment for the command, as NAME=value. Values are
	// passed on stdin-free paths only for non-secret data; secrets go in files.
	Env []string
	// Redact lists substrings to hide from error messages and logs.
	Redact []string
	// ReadOnly marks a command that only observes the host (cat, systemctl
	// show, sha256sum). A ReadOnly target runs these and refuses all others.
	ReadOnly bool
}

// String renders the command for messages and logs, with redactions. An
// embedded script (any argument spanning lines) is shown by its first line
// only: an error should name the command, not reprint a page of shell.
func (c Cmd) String() string {
	args := make([]string, len(c.Args))
	for i, a := range c.Args {
		if first, _, multi := strings.Cut(a, "\n"); multi {
			a = first + " …"
		}
		args[i] = a
	}
	s := QuoteArgs(args)
	for _, r := range c.Redact {
		if r != "" {
			s = replaceAll(s, r, "<redacted>")
		}
	}
	return s
}

// Result holds what a command printed.
type Result struct {
	Stdout []byte
	Stderr []byte
}

// ExitError reports a command that ran and exited non-zero.
type ExitError struct {
	Host   string
	Cmd    string // quoted, secrets redacted
	Code   int
	Stderr string // last few KiB
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("%s: exit status %d", e.Cmd, e.Code)
	if e.Stderr != "" {
		msg += ": " + lastLine(e.Stderr)
	}
	return msg
}

// Errors that callers branch on.
var (
	// ErrUnknownOutcome: the command may or may not have run to completion.
	ErrUnknownOutcome = errors.New("command outcome unknown: the session ended without an exit status")
	// ErrReadOnly is returned by a ReadOnly target for any write.
	ErrReadOnly = errors.New("write refused: target is read-only during gather and plan")
	// ErrHostKeyMismatch: the host presented a key other than the one on record.
	// Never retried.
	ErrHostKeyMismatch = errors.New("host key mismatch")
	// ErrHostKeyUnknown: the host is not in known_hosts and --accept-new is off.
	ErrHostKeyUnknown = errors.New("host key unknown")
	// ErrUnreachable wraps every failure to establish a connection, so the CLI
	// can report unreachable hosts apart from failed ones.
	ErrUnreachable = errors.New("unreachable")
	// ErrForwardingDisabled: the host's sshd refuses TCP forwarding
	// (AllowTcpForwarding no), so connections from the host's point of
	// view need a relay run on the host.
	ErrForwardingDisabled = errors.New("sshd refuses TCP forwarding (AllowTcpForwarding no)")
	// ErrSudoPassword: sudo -n refused because it wants a password.
	ErrSudoPassword = errors.New("sudo requires a password; configure NOPASSWD for the deploy user or set become = false")
)

const stderrTail = 4096

// TailString returns the last few KiB of b, for error messages.
func TailString(b []byte) string {
	if len(b) > stderrTail {
		b = b[len(b)-stderrTail:]
	}
	return string(b)
}

// NeedsSudo is the one rule for privilege: a host reached as user, with
// become set, runs privileged commands through "sudo -n" unless user is
// root. Transports apply it to Cmd.Sudo; phases ask it (through
// UsesSudo) when they plan for a sudo-less path, so both always agree.
func NeedsSudo(user string, become bool) bool { return become && user != "root" }

// UsesSudo reports whether privileged commands on t go through sudo: t's
// own answer when it knows its login user (remote targets), else
// NeedsSudo(user, become) from the inventory.
func UsesSudo(t Target, user string, become bool) bool {
	if s, ok := t.(interface{ UsesSudo() bool }); ok {
		return s.UsesSudo()
	}
	return NeedsSudo(user, become)
}

// Park closes t's connection while the run has nothing to do on the host,
// when t can (remote targets); the next operation on t connects again. It
// must only be called with nothing in flight on t. Targets without a
// connection to park ignore it.
func Park(t Target) {
	if p, ok := t.(interface{ Park() }); ok {
		p.Park()
	}
}
