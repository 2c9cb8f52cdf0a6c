package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/openimsdk/openim-deploy/internal/target"
	"golang.org/x/crypto/ssh"
)

// feedStdin copies r into the session's stdin and closes it (EOF for the
// command), returning the first error: r's, or the channel's.
func feedStdin(w io.WriteCloser, r io.Reader) error {
	_, err := io.Copy(w, r)
	if cerr := w.Close(); err == nil && cerr != nil && !errors.Is(cerr, io.EOF) {
		err = cerr
	}
	return err
}

// outputs are the buffers a session's output is read into. A read's
// output (tens of KB) arrives a packet at a time: read into a new
// bytes.Buffer it was copied and zeroed again at every doubling, the
// largest cost of a 1000-host read after the handshakes. A buffer that
// already has the room takes it as it comes; the result is one exact copy.
var outputs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledOutput is the largest buffer kept for the next session: a rare
// large output (a journal) is not held for the rest of the run.
const maxPooledOutput = 1 << 20

// takeOutput returns a copy of what b holds (nil when empty) and gives b
// back to outputs.
func takeOutput(b *bytes.Buffer) []byte {
	var out []byte
	if b.Len() > 0 {
		out = bytes.Clone(b.Bytes()) // exact size, not zeroed first
	}
	if b.Cap() <= maxPooledOutput {
		outputs.Put(b)
	}
	return out
}

// commandLine renders cmd for the remote shell: every word quoted by
// target.Quote, sudo and env as argv prefixes (never shell syntax).
//
// A "sh -c SCRIPT" command goes through target.WrapScript: the script and
// its arguments travel on stdin, so the line the login shell parses is
// short and the same for every login shell (sh, dash, bash, tcsh).
func (t *Target) commandLine(cmd target.Cmd) (line string, stdin io.Reader, sudo bool) {
	args, stdin, _ := target.WrapScript(cmd)
	var argv []string
	if cmd.Sudo && t.UsesSudo() {
		argv = append(argv, "sudo", "-n", "--")
		sudo = true
	}
	if len(cmd.Env) > 0 {
		argv = append(argv, "env")
		argv = append(argv, cmd.Env...)
	}
	argv = append(argv, args...)
	return target.QuoteArgs(argv), stdin, sudo
}

// Run runs cmd in a new session. See target.Target.
func (t *Target) Run(ctx context.Context, cmd target.Cmd) (target.Result, error) {
	if len(cmd.Args) == 0 {
		return target.Result{}, errors.New("run: empty command")
	}
	if err := ctx.Err(); err != nil {
		return target.Result{}, fmt.Errorf("run %s: %w", cmd, err)
	}
	line, stdin, sudo := t.commandLine(cmd)
	sess, err := t.openSession(ctx)
	if err != nil {
		return target.Result{}, fmt.Errorf("run %s on %s: %w", cmd, t, err)
	}
	defer t.sessions.release()
	defer sess.Close()
	t.counters.session()
	stdout, stderr := outputs.Get().(*bytes.Buffer), outputs.Get().(*bytes.Buffer)
	stdout.Reset()
	stderr.Reset()
	sess.Stdout, sess.Stderr = stdout, stderr
	// Stdin is written straight into the channel (StdinPipe) rather than
	// through Session.Stdin, which interposes an io.Pipe, a goroutine and
	// a 32 KiB copy buffer per session: every script's frame travels on
	// stdin, so that was 48 MB of garbage per 500-host no-op apply.
	var feed io.WriteCloser
	if stdin != nil {
		if feed, err = sess.StdinPipe(); err != nil {
			return target.Result{}, fmt.Errorf("run %s on %s: %w", cmd, t, err)
		}
	}
	if err := sess.Start(line); err != nil {
		// The exec request was refused or never answered: nothing ran.
		return target.Result{}, unreachable(fmt.Errorf("run %s on %s: %w", cmd, t, err))
	}
	fed := make(chan error, 1)
	if feed != nil {
		go func() { fed <- feedStdin(feed, stdin) }()
	} else {
		fed <- nil
	}
	waited := make(chan error, 1)
	go func() { waited <- sess.Wait() }()
	select {
	case err = <-waited:
	case <-ctx.Done():
		// Kill the command, then drop the channel without waiting for a
		// peer that may not answer. The buffers still belong to Wait.
		_ = sess.Signal(ssh.SIGKILL)
		_ = sess.Close()
		<-fed // a write on the closed channel returns at once
		// The buffers stay out of the pool: Wait may still write to them.
		return target.Result{}, fmt.Errorf("run %s on %s: %w", cmd, t, ctx.Err())
	}
	_ = sess.Close() // ends a feed the command never read
	if ferr := <-fed; err == nil && ferr != nil {
		// As Session.Stdin would: a command that succeeded without all
		// of its input is not a success.
		err = ferr
	}

	res := target.Result{Stdout: takeOutput(stdout), Stderr: takeOutput(stderr)}
	var exitErr *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case err == nil:
		return res, nil
	case errors.As(err, &exitErr):
		ee := &target.ExitError{
			Host:   t.name,
			Cmd:    cmd.String(),
			Code:   exitErr.ExitStatus(),
			Stderr: target.TailString(res.Stderr),
		}
		if sudo && strings.Contains(ee.Stderr, "a password is required") {
			return res, fmt.Errorf("run %s on %s: %w: %w", cmd, t, target.ErrSudoPassword, ee)
		}
		return res, ee
	case errors.As(err, &missing):
		// Also what a session sees when keepalives close a dead
		// connection under it: then the host is unreachable too.
		return res, t.unknownOutcome(fmt.Errorf("run %s on %s: %w", cmd, t, target.ErrUnknownOutcome))
	default:
		// The connection dropped while the command ran.
		return res, t.unknownOutcome(fmt.Errorf("run %s on %s: %w (%w)", cmd, t, target.ErrUnknownOutcome, err))
	}
}

// confirmLostTimeout bounds how long unknownOutcome asks the peer whether
// the connection still lives.
const confirmLostTimeout = 5 * time.Second

// unknownOutcome is connErr for a session that ended without an exit
// status. A rebooting host's sshd closes its sessions a moment before the
// TCP connection, so the client may not have noticed the end yet: it asks
// the peer (a keepalive request) before deciding, so that the same fault
// is reported as unreachable every time, not only when the client was
// quick.
func (t *Target) unknownOutcome(err error) error {
	l := t.live()
	if l == nil || l.lost() {
		return unreachable(err)
	}
	answered := make(chan error, 1)
	// Bounded: SendRequest returns on the reply or when the connection ends.
	go func() {
		_, _, rerr := l.client.SendRequest("keepalive@openssh.com", true, nil)
		answered <- rerr
	}()
	timer := time.NewTimer(confirmLostTimeout)
	defer timer.Stop()
	select {
	case rerr := <-answered:
		if rerr != nil {
			return unreachable(err)
		}
	case <-l.lostc:
		return unreachable(err)
	case <-timer.C:
	}
	return t.connErr(err)
}
