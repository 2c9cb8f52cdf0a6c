// Package clocktest has a clock for tests that moves only when the test
// says so, and says when code is waiting on it, so a test can step
// time-driven code (redraw loops, polls) without sleeping.
package clocktest

import (
	"sync"
	"time"
)

// Manual is a clock.Clock whose time moves only by Advance. Every After
// call is announced on Parked, so a test knows when a loop has done its
// work and waits on the clock again.
type Manual struct {
	mu     sync.Mutex
	now    time.Time
	timers []timer
	// Parked receives one value per After call. It is buffered; a test that
	// does not read it only loses the notifications.
	Parked chan struct{}
}

type timer struct {
	at time.Time
	ch chan time.Time
}

// NewManual returns a Manual clock at start.
func NewManual(start time.Time) *Manual {
	return &Manual{now: start, Parked: make(chan struct{}, 1024)}
}

// Now returns the clock's time.
func (c *Manual) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After returns a channel that receives the time once Advance has moved
// the clock d past now.
func (c *Manual) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
	} else {
		c.timers = append(c.timers, timer{at: c.now.Add(d), ch: ch})
	}
	c.mu.Unlock()
	select {
	case c.Parked <- struct{}{}:
	default:
	}
	return ch
}

// Advance moves the clock on by d and fires every timer now due.
func (c *Manual) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, tm := range c.timers {
		if tm.at.After(c.now) {
			kept = append(kept, tm)
			continue
		}
		tm.ch <- c.now
	}
	c.timers = kept
}

// Step advances the clock by d and waits until some code waits on the
// clock again: for a loop that redraws on every tick, until it has
// redrawn.
func (c *Manual) Step(d time.Duration) {
	c.Advance(d)
	<-c.Parked
}
