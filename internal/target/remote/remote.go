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
	via    []*ssh.Client // jump hosts, innermost first
	sem    chan struct{}

	sftpMu sync.Mutex
	sftp   *sftp.Client

	counters *HostCounters // nil unless measuring

	lacksSum atomic.Bool // the host has no sha256sum: verify by reading back

	closeOnce sync.Once
	done      chan struct{} // closed by Close
	lostc     chan struct{} // closed when the connection ends, for any reason
}

var _ target.Target = (*Target)(nil)

// Dial connects to the host cfg describes and returns it as a Target. Every
// failure satisfies errors.Is(err, target.ErrUnreachable); a refused host
// key also satisfies target.ErrHostKeyMismatch or target.ErrHostKeyUnknown.
func Dial(ctx context.Context, cfg Config) (*Target, error) {
	h, err := cfg.resolve()
	if err != nil {
		return nil, &unreachableError{fmt.Errorf("connect %s: %w", cfg.Address, err)}
	}
	client, via, err := connect(ctx, h)
	if err != nil {
		return nil, unreachable(fmt.Errorf("connect %s: %w", describe(h.name, h.addr), err))
	}
	t := &Target{
		name:     h.name,
		addr:     h.addr,
		user:     h.user,
		become:   h.become,
		client:   client,
		via:      via,
		sem:      make(chan struct{}, maxSessions),
		counters: h.counters,
		done:     make(chan struct{}),
		lostc:    make(chan struct{}),
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
		for _, v := range t.via {
			v.Close()
		}
	})
	return err
}

// DialContext opens a direct-tcpip channel: addr is resolved and dialled by
// the host, so "127.0.0.1:10002" is the host's own loopback.
func (t *Target) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := t.client.DialContext(ctx, network, addr)
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
				t.client.Close()
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
			t.client.Close()
			return
		}
	}
}

// lost reports whether the connection has ended.
func (t *Target) lost() bool {
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

// acquire takes a session slot.
func (t *Target) acquire(ctx context.Context) error {
	select {
	case t.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (t *Target) release() { <-t.sem }
