package remote

import (
	"bufio"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/openimsdk/openim-deploy/internal/target"
	"golang.org/x/crypto/ssh"
)

// relayScript connects to $1:$2 from the host and relays stdin and stdout
// to it, for hosts whose sshd refuses direct-tcpip (AllowTcpForwarding
// no), with bash's /dev/tcp. "ok" on the first line says the connection
// is up; after that the stream is the peer's (see scripts/relay.sh).
//
//go:embed scripts/relay.sh
var relayScript string

// Exit statuses of relayScript, each listed in its header. dialRelay
// reads the "ok" line, not these: without it the reason is on stderr.
const (
	relayExitNoBash  = 127 // the host has no bash
	relayExitConnect = 111 // the connection failed
)

// isForwardingRefusal reports whether err is sshd declining a
// direct-tcpip channel by policy rather than because nothing listens:
// "administratively prohibited" (OpenSSH with AllowTcpForwarding no).
func isForwardingRefusal(err error) bool {
	var oce *ssh.OpenChannelError
	return errors.As(err, &oce) && oce.Reason == ssh.Prohibited
}

// TCPForwarding reports whether the host's sshd forwards TCP: nil when it
// does, an error wrapping target.ErrForwardingDisabled when it refuses by
// policy. It asks for a channel to a port nothing listens on (127.0.0.1:1):
// sshd answers "connect failed" when forwarding is allowed.
func (t *Target) TCPForwarding(ctx context.Context) error {
	l, err := t.conn(ctx)
	if err != nil {
		return err
	}
	c, err := l.client.DialContext(ctx, "tcp", "127.0.0.1:1")
	if err == nil {
		c.Close()
		return nil
	}
	if isForwardingRefusal(err) {
		t.noForward.Store(true)
		return fmt.Errorf("%s: %w", t, target.ErrForwardingDisabled)
	}
	return nil
}

// dialRelay opens addr from the host through relayScript.
func (t *Target) dialRelay(ctx context.Context, network, addr string) (net.Conn, error) {
	if network != "tcp" && network != "tcp4" && network != "tcp6" {
		return nil, fmt.Errorf("dial %s %s from %s: only tcp can be relayed (%w)", network, addr, t, target.ErrForwardingDisabled)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s from %s: %w", addr, t, err)
	}
	sess, err := t.openSession(ctx)
	if err != nil {
		return nil, fmt.Errorf("dial %s from %s (relay): %w", addr, t, err)
	}
	fail := func(err error) (net.Conn, error) {
		sess.Close()
		t.sessions.release()
		return nil, fmt.Errorf("dial %s from %s (relay, %w): %w", addr, t, target.ErrForwardingDisabled, err)
	}
	argv, stdinFrame, _ := target.WrapScript(target.Cmd{Args: []string{"sh", "-c", relayScript, "sh", host, port}})
	stdin, err := sess.StdinPipe()
	if err != nil {
		return fail(err)
	}
	stdout, err := sess.StdoutPipe()
	if err != nil {
		return fail(err)
	}
	var stderr strings.Builder
	sess.Stderr = &limitedWriter{w: &stderr, n: 4096}
	if err := sess.Start(target.QuoteArgs(argv)); err != nil {
		return fail(err)
	}
	if _, err := io.Copy(stdin, stdinFrame); err != nil {
		return fail(err)
	}
	// Wait for "ok" (connected) or the end of the relay (refused), within
	// ctx: a host that never answers must not hold the probe.
	br := bufio.NewReader(stdout)
	type line struct {
		s   string
		err error
	}
	got := make(chan line, 1)
	go func() { s, err := br.ReadString('\n'); got <- line{s, err} }()
	select {
	case l := <-got:
		if l.s != "ok\n" {
			_ = sess.Wait()
			return fail(fmt.Errorf("connection failed: %s", strings.TrimSpace(orDefaultString(stderr.String(), l.s))))
		}
	case <-ctx.Done():
		_ = sess.Signal(ssh.SIGKILL)
		return fail(ctx.Err())
	}
	return &relayConn{t: t, sess: sess, r: br, w: stdin, addr: addr}, nil
}

func orDefaultString(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}

// relayConn is a net.Conn over a relay session's stdin and stdout.
// Deadlines are not supported, as on SSH channels; callers bound their
// use with a context, which closes the conn.
type relayConn struct {
	t    *Target
	sess *ssh.Session
	r    io.Reader
	w    io.WriteCloser
	addr string
	once sync.Once
}

func (c *relayConn) Read(b []byte) (int, error)  { return c.r.Read(b) }
func (c *relayConn) Write(b []byte) (int, error) { return c.w.Write(b) }

// Close ends the relay and frees its session slot.
func (c *relayConn) Close() error {
	c.once.Do(func() {
		_ = c.w.Close()
		_ = c.sess.Signal(ssh.SIGTERM)
		_ = c.sess.Close()
		c.t.sessions.release()
	})
	return nil
}

func (c *relayConn) LocalAddr() net.Addr  { return relayAddr("relay on " + c.t.String()) }
func (c *relayConn) RemoteAddr() net.Addr { return relayAddr(c.addr) }

var errRelayDeadline = errors.New("probe relay: deadlines not supported")

func (c *relayConn) SetDeadline(time.Time) error      { return errRelayDeadline }
func (c *relayConn) SetReadDeadline(time.Time) error  { return errRelayDeadline }
func (c *relayConn) SetWriteDeadline(time.Time) error { return errRelayDeadline }

// relayAddr is the net.Addr of a relay end.
type relayAddr string

func (a relayAddr) Network() string { return "tcp" }
func (a relayAddr) String() string  { return string(a) }

// limitedWriter keeps the first n bytes written to it.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(b []byte) (int, error) {
	if l.n > 0 {
		k := min(len(b), l.n)
		_, _ = l.w.Write(b[:k])
		l.n -= k
	}
	return len(b), nil
}
