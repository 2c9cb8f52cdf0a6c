package lock

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/openimsdk/openim-deploy/internal/clock"
	"github.com/openimsdk/openim-deploy/internal/target"
)

// Lease is a held lock. Keep refreshes it while work goes on; Release
// gives it up. Methods are safe for concurrent use.
type Lease struct {
	// Info is the lease as acquired, with the host's times. Refreshes move
	// the expiry on the host but do not change Info.
	Info Info
	// Previous is the stale lease this one replaced, nil if there was none,
	// so the caller can say "took over the expired lock of ...".
	Previous *Info

	t     target.Target
	path  string
	ttl   time.Duration
	sudo  bool
	clock Clock

	mu       sync.Mutex
	stop     chan struct{} // closed by Release to stop Keep
	done     chan struct{} // closed when Keep's goroutine returns
	lost     chan struct{} // closed when the lease is found lost
	lostErr  error
	released bool
}

// Acquire takes the lock at path (a directory such as
// /var/lib/openim-deploy/openim.lock) on t for holder. If a live lease
// is held by someone else it returns a *HeldError (wrapping ErrHeld) at
// once, or, with opts.Wait, after polling until the lock frees up or Wait
// has passed. An expired lease is taken over; Lease.Previous describes it.
func Acquire(ctx context.Context, t target.Target, path string, holder Holder, opts Options) (*Lease, error) {
	return AcquireWith(ctx, t, path, holder, opts, nil)
}

// AcquireWith is Acquire, and runs rider (when not nil) in the same round
// trip once the lock is taken: rider.Stdout and rider.Err say how it went.
// A failed rider does not fail the acquire: the lease is returned, to be
// released by the caller.
func AcquireWith(ctx context.Context, t target.Target, path string, holder Holder, opts Options, rider *Rider) (*Lease, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.Clock == nil {
		opts.Clock = clock.System{}
	}
	l := &Lease{t: t, path: path, sudo: opts.Sudo, clock: opts.Clock,
		ttl: time.Duration(ttlSeconds(opts.TTL)) * time.Second, lost: make(chan struct{})}
	l.Info = Info{ID: newID(), Holder: holder}
	// The info file is the JSON object without its closing brace; the
	// script appends the host's acquired and expires times.
	body, err := json.Marshal(wire{ID: l.Info.ID, User: holder.User, Host: holder.Host, PID: holder.PID, Command: holder.Command})
	if err != nil {
		return nil, err
	}
	body = append(body[:len(body)-1], ',')

	deadline := opts.Clock.Now().Add(opts.Wait)
	for {
		err := l.try(ctx, body, rider)
		var held *HeldError
		if err == nil || !errors.As(err, &held) || opts.Wait <= 0 {
			return lease(l, err)
		}
		left := deadline.Sub(opts.Clock.Now())
		if left <= 0 {
			return nil, fmt.Errorf("waited %s: %w", opts.Wait, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for lock: %w (%w)", ctx.Err(), err)
		case <-opts.Clock.After(min(pollInterval, left)):
		}
	}
}

func lease(l *Lease, err error) (*Lease, error) {
	if err != nil {
		return nil, err
	}
	return l, nil
}

// try runs the acquire script once.
func (l *Lease) try(ctx context.Context, body []byte, rider *Rider) error {
	args := []string{l.path, strconv.FormatInt(int64(l.ttl/time.Second), 10), l.Info.ID}
	cmd := script(acquireScript, l.sudo, args...)
	if rider != nil {
		cmd = script(withRider(rider.Script), l.sudo, append(args, rider.Args...)...)
	}
	cmd.Stdin = bytes.NewReader(body)
	res, err := l.t.Run(ctx, cmd)
	if rider != nil {
		acq, out, rc, serr := splitRider(res.Stdout)
		switch {
		case serr != nil && err == nil:
			return fmt.Errorf("acquire lock %s: %w", l.path, serr)
		case serr == nil:
			res.Stdout, rider.Stdout, rider.Err = acq, out, nil
			if rc != 0 {
				rider.Err = &RiderError{Code: rc}
			}
		}
	}
	if exitCode(err) == exitHeld {
		info, perr := parseShow(res.Stdout)
		if perr != nil {
			return perr
		}
		return &HeldError{Path: l.path, Holder: info}
	}
	if err != nil {
		return fmt.Errorf("acquire lock %s: %w", l.path, err)
	}
	// "acquired|took-over", host now, expires, then for a takeover the
	// previous lease's show block.
	lines := bytes.SplitN(res.Stdout, []byte("\n"), 4)
	if len(lines) < 3 {
		return fmt.Errorf("acquire lock %s: unexpected output %q", l.path, res.Stdout)
	}
	now, err1 := strconv.ParseInt(string(lines[1]), 10, 64)
	exp, err2 := strconv.ParseInt(string(lines[2]), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("acquire lock %s: %w", l.path, err)
	}
	l.Info.Acquired, l.Info.Expires = time.Unix(now, 0), time.Unix(exp, 0)
	l.Info.Remaining = time.Duration(exp-now) * time.Second
	if string(lines[0]) == "took-over" && len(lines) == 4 {
		if prev, err := parseShow(lines[3]); err == nil {
			l.Previous = &prev
		}
	}
	return nil
}

// Path returns the lease directory.
func (l *Lease) Path() string { return l.path }

// Keep refreshes the lease every TTL/3 in a goroutine that ends when ctx
// is done, Release is called, or the lease is found lost. Refreshing at a
// third of the TTL lets two refreshes fail (a slow or dropped SSH
// connection) before the lease could lapse. If the lease is taken over or
// broken, or no refresh has succeeded for a whole TTL, Lost is closed and
// Err says why: the caller should stop starting new work. Calling Keep
// more than once, or after Release, does nothing.
func (l *Lease) Keep(ctx context.Context) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done != nil || l.released {
		return
	}
	l.stop, l.done = make(chan struct{}), make(chan struct{})
	go l.keep(ctx, l.stop, l.done)
}

func (l *Lease) keep(ctx context.Context, stop, done chan struct{}) {
	defer close(done)
	every := l.ttl / 3
	lastOK := l.clock.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-stop:
			return
		case <-l.clock.After(every):
		}
		// Bound each refresh by the interval so a hung connection cannot
		// hold the loop past the point where it should declare the lease lost.
		rctx, cancel := context.WithTimeout(ctx, every)
		err := l.refresh(rctx)
		cancel()
		switch {
		case err == nil:
			lastOK = l.clock.Now()
		case errors.Is(err, ErrLost):
			l.markLost(err)
			return
		case ctx.Err() != nil:
			return
		case l.clock.Now().Sub(lastOK) >= l.ttl:
			l.markLost(fmt.Errorf("%w: %s: no successful refresh for %s: %w", ErrLost, l.path, l.ttl, err))
			return
		}
	}
}

// refresh extends the lease once.
func (l *Lease) refresh(ctx context.Context) error {
	ttl := strconv.FormatInt(int64(l.ttl/time.Second), 10)
	_, err := l.t.Run(ctx, script(refreshScript, l.sudo, l.path, l.Info.ID, ttl))
	if exitCode(err) == exitLost {
		return fmt.Errorf("%w: %s was broken or taken over", ErrLost, l.path)
	}
	return err
}

func (l *Lease) markLost(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lostErr == nil {
		l.lostErr = err
		close(l.lost)
	}
}

// Lost is closed when Keep finds the lease lost; see Err.
func (l *Lease) Lost() <-chan struct{} { return l.lost }

// Err returns why the lease was lost (wrapping ErrLost), or nil.
func (l *Lease) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lostErr
}

// Release stops Keep and removes the lease if it is still ours. If it was
// broken or taken over, Release leaves the new holder's lease alone and
// returns an error wrapping ErrLost. Calling it again returns nil. Pass a
// context that survives Ctrl-C (context.WithoutCancel) so an interrupted
// run still unlocks.
func (l *Lease) Release(ctx context.Context) error {
	return l.ReleaseWith(ctx, nil)
}

// ReleaseWith is Release, and runs before (when not nil) in the same round
// trip, just before the lease is given up, still under it: a run's last
// write to the host (its audit line) and its unlock cost one session.
// before.Stdout and before.Err say how it went; a failed rider does not
// keep the lease.
func (l *Lease) ReleaseWith(ctx context.Context, before *Rider) error {
	l.mu.Lock()
	if l.released {
		l.mu.Unlock()
		return nil
	}
	l.released = true
	stop, done := l.stop, l.done
	l.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
	code := 0
	var err error
	if before == nil {
		_, err = l.t.Run(ctx, script(releaseScript, l.sudo, l.path, l.Info.ID))
		code = exitCode(err)
	} else {
		prog, args := target.Compose(
			target.Part{Script: before.Script, Args: before.Args},
			target.Part{Script: releaseScript, Args: []string{l.path, l.Info.ID}})
		var res target.Result
		res, err = l.t.Run(ctx, script(prog, l.sudo, args...))
		if err == nil {
			outs, codes := target.SplitComposed(res.Stdout, 2)
			before.Stdout, before.Err = outs[0], nil
			if codes[0] != 0 {
				before.Err = &RiderError{Code: codes[0]}
			}
			if code = codes[1]; code != 0 {
				err = &RiderError{Code: code}
			}
		}
	}
	if code == exitLost {
		return fmt.Errorf("%w: %s was broken or taken over; left it alone", ErrLost, l.path)
	}
	if err != nil {
		return fmt.Errorf("release lock %s: %w", l.path, err)
	}
	return nil
}

// LostLease returns a lease that is already lost with err (wrapped in
// ErrLost), holding nothing on any host: for tests of code that must stop
// when its lease is lost. Releasing it does nothing.
func LostLease(err error) *Lease {
	l := &Lease{lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{}), released: true}
	close(l.done)
	l.markLost(fmt.Errorf("%w: %w", ErrLost, err))
	return l
}
