package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// errConnectionLost names a session that could not be opened because the
// connection under it had already ended.
var errConnectionLost = errors.New("connection lost")

// sessionLimiter bounds the command sessions open at once on one
// connection, and learns the host's real bound. sshd refuses a session
// channel beyond its MaxSessions (10 by default, often lowered on hardened
// hosts) with an open failure while the connection stays healthy: that is
// back-pressure, not an unreachable host. On a refusal the limit drops to
// the number of sessions that were open, and the caller queues for a slot.
type sessionLimiter struct {
	mu    sync.Mutex
	limit int
	inUse int
	freed chan struct{} // closed, and replaced, whenever a slot frees
}

func newSessionLimiter(limit int) *sessionLimiter {
	return &sessionLimiter{limit: limit, freed: make(chan struct{})}
}

// acquire waits for a slot.
func (l *sessionLimiter) acquire(ctx context.Context) error {
	for {
		l.mu.Lock()
		if l.inUse < l.limit {
			l.inUse++
			l.mu.Unlock()
			return nil
		}
		freed := l.freed
		l.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// release frees a slot and wakes the waiters.
func (l *sessionLimiter) release() {
	l.mu.Lock()
	l.inUse--
	close(l.freed)
	l.freed = make(chan struct{})
	l.mu.Unlock()
}

// refused records that the host refused a session while the caller held
// a slot, and releases that slot. It lowers the limit to the sessions
// still open (never below one) and returns a channel that is closed when
// one of them ends: the moment to try again. With none open it returns
// nil: only time can help (the host's own sessions, such as SFTP, or
// another client's, are what fill it).
func (l *sessionLimiter) refused() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	others := l.inUse - 1
	l.inUse--
	if others >= 1 && others < l.limit {
		l.limit = others
	}
	close(l.freed)
	l.freed = make(chan struct{})
	if others == 0 {
		return nil
	}
	return l.freed
}

// current returns the learnt limit, for tests and messages.
func (l *sessionLimiter) current() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.limit
}

// maxRefusals bounds the retries of one command when the host keeps
// refusing sessions although none of ours is open: something else holds
// them, and after this many tries the command fails with the reason.
const maxRefusals = 6

// isSessionRefusal reports whether err is the host declining to open a
// channel, as sshd does past MaxSessions (the connection itself is fine).
func isSessionRefusal(err error) bool {
	var oce *ssh.OpenChannelError
	return errors.As(err, &oce)
}

// openSession opens a session within a slot of the limiter, waiting and
// retrying while the host refuses sessions for lack of room. The caller
// must call t.sessions.release() after closing the session.
func (t *Target) openSession(ctx context.Context) (*ssh.Session, error) {
	refusals := 0
	for {
		if err := t.sessions.acquire(ctx); err != nil {
			return nil, err
		}
		l, err := t.conn(ctx)
		if err != nil {
			t.sessions.release()
			return nil, err
		}
		sess, err := l.client.NewSession()
		if err == nil {
			return sess, nil
		}
		if !isSessionRefusal(err) || t.lost() {
			t.sessions.release()
			if t.lost() || errors.Is(err, io.EOF) {
				// The transport has ended (the host rebooted, its sshd
				// stopped, keepalives gave up): say so, not just "EOF".
				return nil, unreachable(fmt.Errorf("open session: %w: %w", errConnectionLost, err))
			}
			return nil, unreachable(fmt.Errorf("open session: %w", err))
		}
		wake := t.sessions.refused()
		if wake == nil {
			refusals++
			if refusals >= maxRefusals {
				return nil, fmt.Errorf("open session: host refused %d times with none of ours open (sshd MaxSessions too low for SFTP plus one command?): %w", refusals, err)
			}
			// Linear backoff: 100 ms, 200 ms, ... 500 ms, 2 s in all.
			timer := time.NewTimer(time.Duration(refusals) * 100 * time.Millisecond)
			select {
			case <-timer.C:
			case <-ctx.Done():
				timer.Stop()
				return nil, ctx.Err()
			}
			continue
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
