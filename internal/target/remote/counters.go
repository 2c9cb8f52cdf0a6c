package remote

import (
	"net"
	"sync"
	"sync/atomic"
)

// Counters tally what a run's SSH connections carry, per host, so a
// benchmark can report connections, sessions and bytes beside wall time.
// It is a measuring hook: nil (the default) counts nothing and costs
// nothing. It is safe for concurrent use.
type Counters struct {
	mu    sync.Mutex
	hosts map[string]*HostCounters
}

// HostCounters are one host's tallies. Connections counts SSH handshakes
// started (jump hops included), Sessions every channel opened for a command
// or the SFTP subsystem, BytesSent what the controller wrote to the TCP
// connection (SSH framing and encryption included).
type HostCounters struct {
	Connections atomic.Int64
	Sessions    atomic.Int64
	BytesSent   atomic.Int64
}

// Host returns the tallies of the host named name, creating them.
func (c *Counters) Host(name string) *HostCounters {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hosts == nil {
		c.hosts = map[string]*HostCounters{}
	}
	h := c.hosts[name]
	if h == nil {
		h = &HostCounters{}
		c.hosts[name] = h
	}
	return h
}

// Names lists the hosts that have tallies, in no particular order.
func (c *Counters) Names() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	names := make([]string, 0, len(c.hosts))
	for n := range c.hosts {
		names = append(names, n)
	}
	return names
}

func (h *HostCounters) session() {
	if h != nil {
		h.Sessions.Add(1)
	}
}

// wrap counts a new connection and the bytes written to nc.
func (h *HostCounters) wrap(nc net.Conn) net.Conn {
	if h == nil {
		return nc
	}
	h.Connections.Add(1)
	return &countingConn{Conn: nc, sent: &h.BytesSent}
}

type countingConn struct {
	net.Conn
	sent *atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.sent.Add(int64(n))
	return n, err
}
