package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/openimsdk/openim-deploy/internal/target"
	"golang.org/x/crypto/ssh"
)

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
	var stdout, stderr bytes.Buffer
	sess.Stdout, sess.Stderr, sess.Stdin = &stdout, &stderr, stdin
	if err := sess.Start(line); err != nil {
		// The exec request was refused or never answered: nothing ran.
		return target.Result{}, unreachable(fmt.Errorf("run %s on %s: %w", cmd, t, err))
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
		return target.Result{}, fmt.Errorf("run %s on %s: %w", cmd, t, ctx.Err())
	}

	res := target.Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
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
	if t.lost() {
		return unreachable(err)
	}
	answered := make(chan error, 1)
	// Bounded: SendRequest returns on the reply or when the connection ends.
	go func() {
		_, _, rerr := t.client.SendRequest("keepalive@openssh.com", true, nil)
		answered <- rerr
	}()
	timer := time.NewTimer(confirmLostTimeout)
	defer timer.Stop()
	select {
	case rerr := <-answered:
		if rerr != nil {
			return unreachable(err)
		}
	case <-t.lostc:
		return unreachable(err)
	case <-timer.C:
	}
	return t.connErr(err)
}
