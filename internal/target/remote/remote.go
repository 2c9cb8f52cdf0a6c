// Package remote implements target.Target over SSH, agentless: one
// x/crypto/ssh connection per host for the whole run, a new session per
// command, and one SFTP client for files. Host keys are checked strictly
// against known_hosts; connecting, and noticing a dead peer, take bounded
// time.
package remote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// maxSessions bounds concurrent command sessions per connection: sshd's
// MaxSessions defaults to 10, and the SFTP client holds one more.
const maxSessions = 8

// Target is one host reached over SSH. It is safe for concurrent use.
type Target struct {
	name   string
	addr   string
	user   string
	become bool

	// redial opens a new link to the host, the way the first was opened.
	redial func(ctx context.Context) (*link, error)

	mu     sync.Mutex
	cur    *link // nil while parked (see Park) and once closed
	closed bool

	// sessions bounds concurrent command sessions and learns the host's
	// MaxSessions from its refusals.
	sessions *sessionLimiter

	counters *HostCounters // nil unless measuring

	lacksSum  atomic.Bool // the host has no sha256sum: verify by reading back
	noForward atomic.Bool // sshd refused direct-tcpip by policy: relay instead
}

// link is one SSH connection of a Target, with what lives and dies with
// it: the SFTP client, the keepalives, and whether it was lost.
type link struct {
	client *ssh.Client
	// releaseVia gives back the bastion connections (shared through a
	// Pool) this link was made through.
	releaseVia func()

	sftpMu sync.Mutex
	sftp   *sftp.Client

	dead      atomic.Bool   // keepalives gave up on the peer
	closeOnce sync.Once     //
	done      chan struct{} // closed when the link is closed on purpose
	lostc     chan struct{} // closed when the connection ends, for any reason
	closeErr  error
}

// close ends the link: SFTP, the connection, its bastions.
func (l *link) close() error {
	l.closeOnce.Do(func() {
		close(l.done)
		l.sftpMu.Lock()
		if l.sftp != nil {
			l.sftp.Close()
		}
		l.sftpMu.Unlock()
		l.closeErr = l.client.Close()
		l.releaseVia()
	})
	return l.closeErr
}

// lost reports whether the connection has ended without being closed.
func (l *link) lost() bool {
	if l.dead.Load() {
		return true
	}
	select {
	case <-l.lostc:
		return true
	default:
		return false
	}
}

var _ target.Target = (*Target)(nil)

// Dial connects to the host cfg describes and returns it as a Target. Every
// failure satisfies errors.Is(err, target.ErrUnreachable); a refused host
// key also satisfies target.ErrHostKeyMismatch or target.ErrHostKeyUnknown.
//
// Dial shares nothing with other Targets; Pool.Dial shares bastions.
func Dial(ctx context.Context, cfg Config) (*Target, error) {
	return dialWith(ctx, cfg, NewPool())
}

func dialWith(ctx context.Context, cfg Config, pool *Pool) (*Target, error) {
	h, err := cfg.resolve()
	if err != nil {
		return nil, &unreachableError{fmt.Errorf("connect %s: %w", cfg.Address, err)}
	}
	t := &Target{
		name:     h.name,
		addr:     h.addr,
		user:     h.user,
		become:   h.become,
		sessions: newSessionLimiter(maxSessions),
		counters: h.counters,
	}
	t.redial = func(ctx context.Context) (*link, error) {
		client, releaseVia, err := pool.connect(ctx, h)
		if err != nil {
			return nil, unreachable(fmt.Errorf("connect %s: %w", describe(h.name, h.addr), err))
		}
		l := &link{client: client, releaseVia: releaseVia, done: make(chan struct{}), lostc: make(chan struct{})}
		go func() { _ = client.Wait(); close(l.lostc) }()
		go t.keepalive(l, h.kaInterval, h.kaMax)
		return l, nil
	}
	if t.cur, err = t.redial(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

// conn returns the target's link, connecting again first when it was
// parked. A lost link is returned as it is: a host that went away stays
// unreachable for the rest of the run, it is not dialled behind the
// caller's back.
func (t *Target) conn(ctx context.Context) (*link, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, fmt.Errorf("%s: %w", t, net.ErrClosed)
	}
	if t.cur == nil {
		l, err := t.redial(ctx)
		if err != nil {
			return nil, err
		}
		t.cur = l
	}
	return t.cur, nil
}

// live is the current link, nil while parked; it never dials.
func (t *Target) live() *link {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cur
}

// Park closes the connection while the run has nothing to do on the host;
// the next operation connects again. A large fleet's no-op apply parks
// every host once it is read, so the controller does not hold a thousand
// idle connections' buffers at once. Only call it with nothing in flight
// on the target.
func (t *Target) Park() {
	t.mu.Lock()
	l := t.cur
	t.cur = nil
	t.mu.Unlock()
	if l != nil {
		_ = l.close()
	}
}

func describe(name, addr string) string {
	if name == "" || name == addr {
		return addr
	}
	return name + " (" + addr + ")"
}

// String is "im-1 (10.0.0.11:22)".
func (t *Target) String() string { return describe(t.name, t.addr) }

// Name is the inventory name.
func (t *Target) Name() string { return t.name }

// User is the login user the connection was made as, after ssh_config and
// defaults were applied.
func (t *Target) User() string { return t.user }

// UsesSudo reports whether commands with Cmd.Sudo run through "sudo -n"
// on this host (see target.NeedsSudo).
func (t *Target) UsesSudo() bool { return target.NeedsSudo(t.user, t.become) }

// Close closes the SFTP client, the connection and any jump connections.
func (t *Target) Close() error {
	t.mu.Lock()
	l := t.cur
	t.cur, t.closed = nil, true
	t.mu.Unlock()
	if l == nil {
		return nil
	}
	return l.close()
}

// DialContext opens a direct-tcpip channel: addr is resolved and dialled by
// the host, so "127.0.0.1:10002" is the host's own loopback.
//
// When the host's sshd refuses forwarding (AllowTcpForwarding no), the
// connection is relayed by a small script run on the host instead (see
// relayScript), and every later dial goes there directly.
func (t *Target) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if t.noForward.Load() {
		return t.dialRelay(ctx, network, addr)
	}
	l, err := t.conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("dial %s from %s: %w", addr, t, err)
	}
	c, err := l.client.DialContext(ctx, network, addr)
	if isForwardingRefusal(err) {
		t.noForward.Store(true)
		return t.dialRelay(ctx, network, addr)
	}
	if err != nil {
		return nil, fmt.Errorf("dial %s from %s: %w", addr, t, err)
	}
	return c, nil
}

// keepalive sends keepalive@openssh.com on l every interval, each under
// its own timer, and closes the connection after max consecutive misses so
// that every pending and later operation fails instead of hanging on a
// dead peer. It ends with the link.
func (t *Target) keepalive(l *link, interval time.Duration, max int) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	misses := 0
	for {
		select {
		case <-l.done:
			return
		case <-tick.C:
		}
		reply := make(chan error, 1)
		go func() {
			_, _, err := l.client.SendRequest("keepalive@openssh.com", true, nil)
			reply <- err
		}()
		timer := time.NewTimer(interval)
		select {
		case err := <-reply:
			if err != nil { // the connection is gone
				timer.Stop()
				giveUp(l)
				return
			}
			misses = 0
		case <-timer.C:
			misses++
		case <-l.done:
			timer.Stop()
			return
		}
		timer.Stop()
		if misses >= max {
			giveUp(l)
			return
		}
	}
}

// giveUp closes a connection keepalives found dead. The flag is set
// first: closing makes every open session end without an exit status, and
// those sessions must see the connection as lost (unreachable), which the
// client's own Wait may report a moment later.
func giveUp(l *link) {
	l.dead.Store(true)
	l.client.Close()
}

// lost reports whether the connection has ended; a parked target has not
// lost its host.
func (t *Target) lost() bool {
	l := t.live()
	return l != nil && l.lost()
}

// lostChan is closed when the current connection ends; nil (never ready)
// while parked.
func (t *Target) lostChan() <-chan struct{} {
	if l := t.live(); l != nil {
		return l.lostc
	}
	return nil
}

// connErr marks err as unreachable when the connection is gone, so the CLI
// reports the host as unreachable rather than as a failed step.
func (t *Target) connErr(err error) error {
	if t.lost() || errors.Is(err, sftp.ErrSSHFxConnectionLost) {
		return unreachable(err)
	}
	return err
}
