package remote

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
)

// Pool shares one SSH connection per bastion among every Target dialled
// through it. Without it each host behind a bastion opens its own
// connection to the bastion: at --parallel 50 that is 50 handshakes at
// once, and sshd's default "MaxStartups 10:30:100" drops them at random.
// With it the bastion sees one connection, and each host is one
// direct-tcpip channel on it. A bastion connection is closed when the last
// Target using it closes. The zero value is not usable; use NewPool. Safe
// for concurrent use.
//
// A Pool also parses each known_hosts file once for all its connections
// (see knownHostsCache).
type Pool struct {
	mu    sync.Mutex
	conns map[string]*pooled
	known knownHostsCache
}

// pooled is one shared bastion connection, or the attempt to make it.
type pooled struct {
	ready   chan struct{} // closed once client or err is set
	client  *ssh.Client
	release func() // releases the bastion's own jump hosts
	err     error
	refs    int
	dead    bool // the connection ended: new dialers make a fresh one
}

// NewPool returns an empty Pool.
func NewPool() *Pool { return &Pool{conns: map[string]*pooled{}} }

// Dial connects to the host cfg describes, sharing bastion connections
// with the other Targets of this pool. See the package Dial.
func (p *Pool) Dial(ctx context.Context, cfg Config) (*Target, error) {
	return dialWith(ctx, cfg, p)
}

// key identifies a hop and everything that decides how it is reached and
// authenticated: two hops with the same key can share one connection.
func (h *hop) key() string {
	var b strings.Builder
	for ; h != nil; h = h.jump {
		fmt.Fprintf(&b, "%s@%s|%s|%s|%t|%t>", h.user, h.addr, strings.Join(h.identities, ","), h.knownHosts, h.acceptNew, h.agent)
	}
	return b.String()
}

// bastion returns a shared connection to h (connecting it, through its own
// jump hosts, if this is the first use) and the function that gives it
// back.
func (p *Pool) bastion(ctx context.Context, h *hop) (*ssh.Client, func(), error) {
	k := h.key()
	p.mu.Lock()
	e := p.conns[k]
	if e != nil && !e.dead {
		e.refs++
		p.mu.Unlock()
		select {
		case <-e.ready:
		case <-ctx.Done():
			p.put(k, e)
			return nil, nil, ctx.Err()
		}
		if e.err != nil {
			p.put(k, e)
			return nil, nil, e.err
		}
		return e.client, func() { p.put(k, e) }, nil
	}
	e = &pooled{ready: make(chan struct{}), refs: 1}
	p.conns[k] = e
	p.mu.Unlock()

	// The first dialer connects; the others wait on ready. One failure
	// fails the hosts waiting for it; the entry is dropped, so a later
	// dial tries again.
	e.client, e.release, e.err = p.connect(ctx, h)
	if e.err == nil {
		go func() {
			_ = e.client.Wait()
			p.mu.Lock()
			e.dead = true
			p.mu.Unlock()
		}()
	}
	close(e.ready)
	if e.err != nil {
		p.put(k, e)
		return nil, nil, e.err
	}
	return e.client, func() { p.put(k, e) }, nil
}

// put gives back one reference to e; the last one closes the connection.
func (p *Pool) put(k string, e *pooled) {
	p.mu.Lock()
	e.refs--
	last := e.refs == 0
	if last && p.conns[k] == e {
		delete(p.conns, k)
	}
	p.mu.Unlock()
	if last && e.client != nil {
		e.client.Close()
		e.release()
	}
}

// connect opens an SSH connection to h, directly or through its jump
// hosts (shared via the pool). release gives back the jump hosts; the
// caller closes the returned client itself.
func (p *Pool) connect(ctx context.Context, h *hop) (*ssh.Client, func(), error) {
	release := func() {}
	var proxy *ssh.Client
	if h.jump != nil {
		jc, rel, err := p.bastion(ctx, h.jump)
		if err != nil {
			return nil, nil, unreachable(fmt.Errorf("via bastion %s (%s): %w", h.jump.name, h.jump.addr, err))
		}
		proxy, release = jc, rel
	}
	c, err := connectHop(ctx, h, proxy, &p.known)
	if err != nil {
		release()
		return nil, nil, err
	}
	return c, release, nil
}
