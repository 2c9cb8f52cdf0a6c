package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/openimsdk/openim-deploy/internal/target"
)

// Stream runs cmd under target.StreamScript in a new session and copies its
// output as it arrives. See target.Target.
//
// The session's stdin is a pipe held open until the call returns; closing
// it (on ctx's end) is what makes the wrapper kill the command on the host,
// so "journalctl -f" never outlives the caller, whatever sshd does with the
// signal request sent alongside.
func (t *Target) Stream(ctx context.Context, cmd target.Cmd, stdout, stderr io.Writer) error {
	if len(cmd.Args) == 0 {
		return errors.New("stream: empty command")
	}
	if cmd.Stdin != nil {
		return target.ErrStreamStdin
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("stream %s: %w", cmd, err)
	}
	wrapped := cmd
	wrapped.Args = target.StreamArgs(cmd.Args)
	// The wrapper script itself travels on stdin (target.WrapScript); the
	// lifeline below carries it first, then stays open.
	line, frame, sudo := t.commandLine(wrapped)
	sess, err := t.openSession(ctx)
	if err != nil {
		return fmt.Errorf("stream %s on %s: %w", cmd, t, err)
	}
	defer t.sessions.release()
	defer sess.Close()
	lifeline, err := sess.StdinPipe()
	if err != nil {
		return fmt.Errorf("stream %s on %s: %w", cmd, t, err)
	}
	defer lifeline.Close()
	tail := &tailWriter{w: stderr}
	sess.Stdout, sess.Stderr = stdout, tail
	if err := sess.Start(line); err != nil {
		return unreachable(fmt.Errorf("stream %s on %s: %w", cmd, t, err))
	}
	if frame != nil {
		if _, err := io.Copy(lifeline, frame); err != nil {
			return fmt.Errorf("stream %s on %s: send script: %w", cmd, t, err)
		}
	}
	waited := make(chan error, 1)
	go func() { waited <- sess.Wait() }()
	select {
	case err = <-waited:
	case <-ctx.Done():
		// EOF on stdin makes the wrapper kill the command; the signal is
		// a second chance for an sshd that honours it. Then wait a moment
		// for the output copiers, so no write reaches stdout after we
		// return; a peer that does not answer is cut off by Close.
		_ = lifeline.Close()
		_ = sess.Signal(ssh.SIGTERM)
		select {
		case <-waited:
		case <-t.lostChan():
		case <-afterGrace():
		}
		_ = sess.Close()
		return fmt.Errorf("stream %s on %s: %w", cmd, t, ctx.Err())
	}
	var exitErr *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &exitErr):
		ee := &target.ExitError{Host: t.name, Cmd: cmd.String(), Code: exitErr.ExitStatus(), Stderr: tail.String()}
		if sudo && strings.Contains(ee.Stderr, "a password is required") {
			return fmt.Errorf("stream %s on %s: %w: %w", cmd, t, target.ErrSudoPassword, ee)
		}
		return ee
	case errors.As(err, &missing):
		return fmt.Errorf("stream %s on %s: %w", cmd, t, target.ErrUnknownOutcome)
	default:
		return t.connErr(fmt.Errorf("stream %s on %s: %w (%w)", cmd, t, target.ErrUnknownOutcome, err))
	}
}

// tailWriter passes writes through and keeps the last few KiB for the
// ExitError, so a failed stream still says why.
type tailWriter struct {
	w    io.Writer
	tail []byte
}

func (tw *tailWriter) Write(p []byte) (int, error) {
	tw.tail = append(tw.tail, p...)
	if len(tw.tail) > 8192 {
		tw.tail = append([]byte(nil), tw.tail[len(tw.tail)-4096:]...)
	}
	if tw.w == nil {
		return len(p), nil
	}
	return tw.w.Write(p)
}

func (tw *tailWriter) String() string { return target.TailString(tw.tail) }

// streamGrace bounds how long a cancelled Stream waits for the session to
// wind down: long enough for the last buffered lines to be copied out, short
// enough that Ctrl-C feels immediate.
const streamGrace = 2 * time.Second

func afterGrace() <-chan time.Time { return time.After(streamGrace) }
