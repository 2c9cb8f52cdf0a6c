// Package targettest provides test doubles for target.Target.
//
// Fake is a rigtest-style command fake: tests program replies for command
// lines with matchers, run the code under test, then assert which commands
// were received. Any command nobody programmed fails with ErrDefault, so a
// typo in a command string fails the test loudly instead of passing silently.
//
//	f := targettest.NewFake("im-1")
//	f.On(targettest.Equal("systemctl daemon-reload"), targettest.Reply{})
//	f.On(targettest.HasPrefix("systemctl is-active "), targettest.Reply{Stdout: "active\n"})
//	... run the code under test against f ...
//	targettest.ReceivedMatch(t, f, `^systemctl daemon-reload$`)
//	targettest.NotReceivedContains(t, f, "rm -rf")
//
// Matchers see the command line exactly as target.QuoteArgs renders
// cmd.Args. Whether the command asked for sudo is not part of that line; it
// is kept in the Sudo field of the recorded Call (see Calls and ReceivedSudo).
package targettest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/openimsdk/openim-deploy/internal/target"
)

// ErrDefault is returned, wrapped with the command line, for a command that
// no matcher accepts: "unexpected command: systemctl enabel x.service".
var ErrDefault = errors.New("unexpected command")

// Matcher decides whether a programmed reply applies to a command line
// (target.QuoteArgs of the command's Args).
type Matcher func(cmdline string) bool

// Equal matches the command line s exactly.
func Equal(s string) Matcher { return func(c string) bool { return c == s } }

// HasPrefix matches command lines that start with s.
func HasPrefix(s string) Matcher { return func(c string) bool { return strings.HasPrefix(c, s) } }

// Contains matches command lines that contain s.
func Contains(s string) Matcher { return func(c string) bool { return strings.Contains(c, s) } }

// Regexp matches command lines matching the regular expression expr. It
// panics on an invalid expression, like regexp.MustCompile: it is test code.
func Regexp(expr string) Matcher {
	re := regexp.MustCompile(expr)
	return re.MatchString
}

// Any matches every command line: a catch-all, usually registered first so
// that more specific rules added later override it.
func Any() Matcher { return func(string) bool { return true } }

// Responder produces the outcome of a command. Reply and RespondFunc
// implement it.
type Responder interface {
	Respond(ctx context.Context, cmd target.Cmd) (target.Result, error)
}

// Reply is a canned outcome. A non-zero Code makes Run return a
// *target.ExitError (with Stderr) together with the Result; a non-nil Err is
// returned as is, for transport failures such as target.ErrUnknownOutcome.
type Reply struct {
	Stdout string
	Stderr string
	Code   int
	Err    error
}

// Respond implements Responder. The ExitError it returns names no host; the
// Fake fills in its own name.
func (r Reply) Respond(_ context.Context, cmd target.Cmd) (target.Result, error) {
	res := target.Result{Stdout: []byte(r.Stdout), Stderr: []byte(r.Stderr)}
	if r.Err != nil {
		return res, r.Err
	}
	if r.Code != 0 {
		return res, &target.ExitError{Cmd: cmd.String(), Code: r.Code, Stderr: target.TailString(res.Stderr)}
	}
	return res, nil
}

// RespondFunc adapts a function to Responder. cmd.Stdin, if any, has already
// been read by the Fake and is offered again as a fresh reader.
type RespondFunc func(cmd target.Cmd) (target.Result, error)

// Respond implements Responder.
func (f RespondFunc) Respond(_ context.Context, cmd target.Cmd) (target.Result, error) {
	return f(cmd)
}

// Call is the record of one Run.
type Call struct {
	// Line is target.QuoteArgs(Cmd.Args): what matchers saw. It never has a
	// "sudo " prefix; see Sudo.
	Line  string
	Sudo  bool
	Stdin []byte
	Cmd   target.Cmd // as received; Cmd.Stdin is a reader over Stdin
	// Unexpected is true when no matcher accepted the command.
	Unexpected bool
}

type rule struct {
	match Matcher
	resp  Responder
}

// Fake is an in-memory target.Target. The zero value is not usable; call
// NewFake. All methods are safe for concurrent use.
type Fake struct {
	name string

	mu       sync.Mutex
	rules    []rule
	fallback Responder
	calls    []Call
	dial     func(ctx context.Context, network, addr string) (net.Conn, error)
	closed   bool
	fs       memFS
	writeErr func(path string) error
}

var _ target.Target = (*Fake)(nil)

// NewFake returns a Fake named name with an empty filesystem holding only "/".
func NewFake(name string) *Fake {
	return &Fake{name: name, fs: newMemFS()}
}

// On programs r for every command line m accepts. Rules added later take
// precedence over earlier ones, so a test can override a shared setup.
func (f *Fake) On(m Matcher, r Responder) *Fake {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append(f.rules, rule{match: m, resp: r})
	return f
}

// OnFunc is shorthand for On(m, RespondFunc(fn)).
func (f *Fake) OnFunc(m Matcher, fn func(cmd target.Cmd) (target.Result, error)) *Fake {
	return f.On(m, RespondFunc(fn))
}

// SetDefault replaces the outcome of unmatched commands (ErrDefault unless
// set). Unmatched commands are still recorded as Unexpected.
func (f *Fake) SetDefault(r Responder) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fallback = r
}

// SetDial installs the function DialContext uses. Without one, DialContext
// fails.
func (f *Fake) SetDial(fn func(ctx context.Context, network, addr string) (net.Conn, error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dial = fn
}

// String implements fmt.Stringer: "im-1 (fake)".
func (f *Fake) String() string { return f.name + " (fake)" }

// Name returns the name given to NewFake.
func (f *Fake) Name() string { return f.name }

// Run records cmd and returns the reply of the newest matching rule, or
// ErrDefault. It fails with ctx.Err() if ctx is done, and after Close.
func (f *Fake) Run(ctx context.Context, cmd target.Cmd) (target.Result, error) {
	if err := ctx.Err(); err != nil {
		return target.Result{}, err
	}
	var stdin []byte
	if cmd.Stdin != nil {
		b, err := io.ReadAll(cmd.Stdin)
		if err != nil {
			return target.Result{}, fmt.Errorf("targettest: read stdin: %w", err)
		}
		stdin = b
		cmd.Stdin = bytes.NewReader(b)
	}
	resp, err := f.record(cmd, stdin)
	if err != nil {
		return target.Result{}, err
	}
	res, err := resp.Respond(ctx, cmd)
	if ee, ok := errors.AsType[*target.ExitError](err); ok && ee.Host == "" {
		ee.Host = f.name
	}
	return res, err
}

// record logs cmd and picks its responder: the newest matching rule, the
// default, or an error wrapping ErrDefault.
func (f *Fake) record(cmd target.Cmd, stdin []byte) (Responder, error) {
	line := target.QuoteArgs(cmd.Args)
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil, fmt.Errorf("targettest: %s: run %s: target closed", f.name, line)
	}
	var resp Responder
	for _, r := range slices.Backward(f.rules) {
		if r.match(line) {
			resp = r.resp
			break
		}
	}
	unexpected := resp == nil
	if unexpected {
		resp = f.fallback
	}
	rec := cmd
	if stdin != nil {
		rec.Stdin = bytes.NewReader(stdin)
	}
	f.calls = append(f.calls, Call{Line: line, Sudo: cmd.Sudo, Stdin: stdin, Cmd: rec, Unexpected: unexpected})
	f.mu.Unlock()
	if resp == nil {
		return nil, fmt.Errorf("%s: %w: %s", f.name, ErrDefault, cmd.String())
	}
	return resp, nil
}

// DialContext calls the function installed with SetDial, or fails.
func (f *Fake) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	f.mu.Lock()
	dial := f.dial
	f.mu.Unlock()
	if dial == nil {
		return nil, fmt.Errorf("targettest: %s: dial %s %s: no dialer configured (use SetDial)", f.name, network, addr)
	}
	return dial(ctx, network, addr)
}

// Close marks the Fake closed; later Runs fail. Safe to call more than once.
func (f *Fake) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

// Closed reports whether Close was called.
func (f *Fake) Closed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

// Calls returns a copy of every Run so far, in order.
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := slices.Clone(f.calls)
	for i := range out {
		if out[i].Stdin != nil {
			out[i].Cmd.Stdin = bytes.NewReader(out[i].Stdin)
		}
	}
	return out
}

// Commands returns the command line of every Run so far, in order, without
// any "sudo " prefix.
func (f *Fake) Commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, len(f.calls))
	for i, c := range f.calls {
		out[i] = c.Line
	}
	return out
}

// Unexpected returns the command lines no matcher accepted.
func (f *Fake) Unexpected() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		if c.Unexpected {
			out = append(out, c.Line)
		}
	}
	return out
}

// Reset forgets the recorded calls; rules and files stay.
func (f *Fake) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = nil
}
