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

	client *ssh.Client
	// releaseVia gives back the bastion connections (shared through a
	// Pool) this target was reached through.
	releaseVia func()
	// sessions bounds concurrent command sessions and learns the host's
	// MaxSessions from its refusals.
	sessions *sessionLimiter

	sftpMu sync.Mutex
	sftp   *sftp.Client

	counters *HostCounters // nil unless measuring

	lacksSum  atomic.Bool // the host has no sha256sum: verify by reading back
	noForward atomic.Bool // sshd refused direct-tcpip by policy: relay instead
	dead      atomic.Bool // keepalives gave up on the peer

	closeOnce sync.Once
	done      chan struct{} // closed by Close
	lostc     chan struct{} // closed when the connection ends, for any reason
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
	client, releaseVia, err := pool.connect(ctx, h)
	if err != nil {
		return nil, unreachable(fmt.Errorf("connect %s: %w", describe(h.name, h.addr), err))
	}
	t := &Target{
		name:       h.name,
		addr:       h.addr,
		user:       h.user,
		become:     h.become,
		client:     client,
		releaseVia: releaseVia,
		sessions:   newSessionLimiter(maxSessions),
		counters:   h.counters,
		done:       make(chan struct{}),
		lostc:      make(chan struct{}),
	}
	go func() { _ = client.Wait(); close(t.lostc) }()
	go t.keepalive(h.kaInterval, h.kaMax)
	return t, nil
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
	var err error
	t.closeOnce.Do(func() {
		close(t.done)
		t.sftpMu.Lock()
		if t.sftp != nil {
			t.sftp.Close()
		}
		t.sftpMu.Unlock()
		err = t.client.Close()
		t.releaseVia()
	})
	return err
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
	c, err := t.client.DialContext(ctx, network, addr)
	if isForwardingRefusal(err) {
		t.noForward.Store(true)
		return t.dialRelay(ctx, network, addr)
	}
	if err != nil {
		return nil, fmt.Errorf("dial %s from %s: %w", addr, t, err)
	}
	return c, nil
}

// keepalive sends keepalive@openssh.com every interval, each under its own
// timer, and closes the connection after max consecutive misses so that
// every pending and later operation fails instead of hanging on a dead peer.
func (t *Target) keepalive(interval time.Duration, max int) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	misses := 0
	for {
		select {
		case <-t.done:
			return
		case <-tick.C:
		}
		reply := make(chan error, 1)
		go func() {
			_, _, err := t.client.SendRequest("keepalive@openssh.com", true, nil)
			reply <- err
		}()
		timer := time.NewTimer(interval)
		select {
		case err := <-reply:
			if err != nil { // the connection is gone
				timer.Stop()
				t.giveUp()
				return
			}
			misses = 0
		case <-timer.C:
			misses++
		case <-t.done:
			timer.Stop()
			return
		}
		timer.Stop()
		if misses >= max {
			t.giveUp()
			return
		}
	}
}

// giveUp closes a connection keepalives found dead. The flag is set
// first: closing makes every open session end without an exit status, and
// those sessions must see the connection as lost (unreachable), which the
// client's own Wait may report a moment later.
func (t *Target) giveUp() {
	t.dead.Store(true)
	t.client.Close()
}

// lost reports whether the connection has ended.
func (t *Target) lost() bool {
	if t.dead.Load() {
		return true
	}
	select {
	case <-t.lostc:
		return true
	default:
		return false
	}
}

// connErr marks err as unreachable when the connection is gone, so the CLI
// reports the host as unreachable rather than as a failed step.
func (t *Target) connErr(err error) error {
	if t.lost() || errors.Is(err, sftp.ErrSSHFxConnectionLost) {
		return unreachable(err)
	}
	return err
}
