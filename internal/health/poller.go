package health

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/openimsdk/openim-deploy/internal/systemd"
	"github.com/openimsdk/openim-deploy/internal/target"
)

// showTimeout bounds one batched "systemctl show". The batch serves many
// gates, so it cannot use any one caller's context; a hung connection
// must still end it so waiting gates see an error and count a failed poll.
const showTimeout = 30 * time.Second

// Poller shares "systemctl show" among the gates of one host. Gates that
// run side by side poll in lockstep; one Show each would open as many SSH
// sessions at once, and sshd refuses sessions beyond MaxSessions (10 by
// default). A Poller runs one Show at a time for every unit asked about
// meanwhile: requests that arrive while a Show is in flight join the next
// one. Safe for concurrent use; the zero value is not usable.
type Poller struct {
	t target.Target

	mu      sync.Mutex
	running bool
	queue   []pollReq
}

type pollReq struct {
	unit string
	ch   chan pollRes // buffered: the batch never blocks on a gone caller
}

type pollRes struct {
	st  systemd.UnitState
	err error
}

// NewPoller returns a Poller for t.
func NewPoller(t target.Target) *Poller { return &Poller{t: t} }

// State returns the function Wait polls for unit, served from shared
// batches. It is a drop-in for UnitState(t, unit).
func (p *Poller) State(unit string) func(context.Context) (systemd.UnitState, error) {
	return func(ctx context.Context) (systemd.UnitState, error) {
		ch := make(chan pollRes, 1)
		p.mu.Lock()
		p.queue = append(p.queue, pollReq{unit: unit, ch: ch})
		if !p.running {
			p.running = true
			// Bounded: it exits as soon as the queue is empty, and each
			// batch is bounded by showTimeout.
			go p.loop()
		}
		p.mu.Unlock()
		select {
		case r := <-ch:
			return r.st, r.err
		case <-ctx.Done():
			return systemd.UnitState{}, ctx.Err()
		}
	}
}

// loop runs batches until no request is waiting.
func (p *Poller) loop() {
	for {
		p.mu.Lock()
		batch := p.queue
		p.queue = nil
		if len(batch) == 0 {
			p.running = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		p.serve(batch)
	}
}

// serve answers one batch with a single Show of its distinct units.
func (p *Poller) serve(batch []pollReq) {
	var units []string
	for _, r := range batch {
		if !slices.Contains(units, r.unit) {
			units = append(units, r.unit)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), showTimeout)
	states, err := systemd.Show(ctx, p.t, units...)
	cancel()
	if errors.Is(err, target.ErrUnreachable) {
		// The connection is gone (host rebooted, link cut): no later poll
		// can read the state either, so the gates fail now rather than
		// after Retries polls of a dead connection.
		err = fmt.Errorf("%w (%w)", err, ErrPermanent)
	}
	for _, r := range batch {
		if err != nil {
			r.ch <- pollRes{err: err}
			continue
		}
		r.ch <- pollRes{st: states[slices.Index(units, r.unit)]}
	}
}
