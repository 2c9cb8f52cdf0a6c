package health

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/openimsdk/openim-deploy/internal/clock"
	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/systemd"
)

// Clock is the seam for time in Wait, so tests run on fake time.
type Clock = clock.Clock

// SystemClock is the real Clock.
type SystemClock = clock.System

// Policy says how long and how often Wait looks. Zero fields take the
// defaults below.
type Policy struct {
	// Interval between polls of the unit's state (and the probe).
	Interval time.Duration
	// Timeout bounds one probe call.
	Timeout time.Duration
	// Retries is how many failed polls Wait accepts before giving up. A
	// poll fails when the unit is not active, the window had to restart
	// (MainPID or NRestarts changed), the probe failed, or the state could
	// not be read.
	Retries int
	// Stable is how long the unit must stay active with MainPID and
	// NRestarts unchanged.
	Stable time.Duration
}

// Defaults, and why:
//   - Stable 5 s: "systemctl start" returns 0 for a Type=simple service
//     that exits a moment later, and a binary that dies 2 s after start
//     must fail the gate. 5 s catches that while keeping a wave of twelve
//     services fast; Nomad's min_healthy_time is 10 s.
//   - Interval 1 s: one "systemctl show" round trip per instance per
//     second is cheap. An open window is checked again when it ends, so
//     its resolution is not the interval's.
//   - Timeout 3 s: probes go to the host's loopback; an answer slower than
//     that is not healthy, and one slow poll must not eat the budget.
//   - Retries 30: about 30 s of not-yet-healthy polls, enough for a service
//     that is slow to open its port, while a crash loop under Restart=always
//     RestartSec=5 still fails in well under a minute.
const (
	DefaultStable   = 5 * time.Second
	DefaultInterval = time.Second
	DefaultTimeout  = 3 * time.Second
	DefaultRetries  = 30
)

// PolicyFor returns the policy in h, with defaults for unset fields.
func PolicyFor(h config.Health) Policy {
	return Policy{Interval: h.Interval, Timeout: h.Timeout, Retries: h.Retries, Stable: h.Stable}.withDefaults()
}

func (p Policy) withDefaults() Policy {
	if p.Interval <= 0 {
		p.Interval = DefaultInterval
	}
	if p.Timeout <= 0 {
		p.Timeout = DefaultTimeout
	}
	if p.Retries <= 0 {
		p.Retries = DefaultRetries
	}
	if p.Stable <= 0 {
		p.Stable = DefaultStable
	}
	return p
}

// Wait is the health gate for one started unit. It polls unitState every
// Interval and returns nil once both hold at the same poll:
//
//   - the unit has been ActiveState=active for at least Stable, with
//     MainPID and NRestarts unchanged since the window opened (a change
//     closes the window and opens a new one);
//   - probe passes (a nil probe leaves the window alone to decide).
//
// It returns an error wrapping ErrUnhealthy after Retries failed polls,
// and at once, also wrapping ErrPermanent, when waiting cannot help:
// Result=start-limit-hit, LoadState other than loaded, or an error from
// unitState or probe that wraps ErrPermanent. A failed or inactive unit is
// not permanent by itself: under Restart= systemd may still bring it back.
//
// There is no separate deadline: every poll either fails (and counts) or
// leaves the window open and growing, so Wait returns after at most about
// Retries + Stable/Interval + 1 polls. Callers that need a hard bound
// (Ctrl-C, a run budget) cancel ctx; Wait then returns ctx's error with
// the last state seen.
func Wait(ctx context.Context, clock Clock, unitState func(context.Context) (systemd.UnitState, error), probe Probe, policy Policy) error {
	if clock == nil {
		clock = SystemClock{}
	}
	g := &gate{p: policy.withDefaults(), probe: probe, start: clock.Now()}
	for {
		if done, err := g.poll(ctx, clock.Now(), unitState); done {
			return err
		}
		select {
		case <-ctx.Done():
			return g.canceled(ctx.Err())
		case <-clock.After(g.next(clock.Now())):
		}
	}
}

// next is how long to wait before the next poll: Interval, or less when
// the last poll passed and the open window ends sooner, so a stable window
// shorter than the interval costs its own length rather than a whole
// interval. A failed poll always waits Interval, so Retries keeps its
// meaning in time.
func (g *gate) next(now time.Time) time.Duration {
	d := g.p.Interval
	if g.open && g.stateErr == nil && g.probeErr == nil {
		if left := g.since.Add(g.p.Stable).Sub(now); left < d {
			d = max(left, 0)
		}
	}
	return d
}

// gate is the state of one Wait.
type gate struct {
	p     Policy
	probe Probe
	start time.Time

	polls    int
	failures int
	seen     bool              // first and last are set
	first    systemd.UnitState // first state read
	last     systemd.UnitState // latest state read

	open  bool      // the stable window is open
	since time.Time // when it opened
	base  systemd.UnitState
	// ran is how long the unit stayed up before its last exit or restart,
	// and restarted whether one was seen; they make "exited 2s after start".
	ran       time.Duration
	restarted bool

	stateErr error // last error reading the state
	probeErr error // last probe failure, nil once it passed
}

// poll takes one look. It reports done with the result, or not done to
// wait another Interval.
func (g *gate) poll(ctx context.Context, now time.Time, unitState func(context.Context) (systemd.UnitState, error)) (bool, error) {
	g.polls++
	st, err := unitState(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return true, g.canceled(ctx.Err())
		}
		g.stateErr = err
		if errors.Is(err, ErrPermanent) {
			return true, g.fail("cannot read unit state", err)
		}
		return g.failed(now)
	}
	g.stateErr = nil
	g.observe(st)

	switch {
	case st.StartLimitHit():
		return true, g.fail(fmt.Sprintf("start limit hit, systemd gave up restarting it; fix the cause, then run `systemctl reset-failed %s`", g.name()), ErrPermanent)
	case st.LoadState != "" && !st.Loaded():
		return true, g.fail(fmt.Sprintf("unit not loaded (LoadState=%s)", st.LoadState), ErrPermanent)
	case !st.Active():
		g.closeWindow(now)
		return g.failed(now)
	case !g.open:
		g.open, g.since, g.base = true, now, st
	case st.MainPID != g.base.MainPID || st.NRestarts != g.base.NRestarts:
		// Restarted between two polls without ever looking inactive.
		g.closeWindow(now)
		g.open, g.since, g.base = true, now, st
		return g.failed(now)
	}

	if g.probe != nil {
		pctx, cancel := context.WithTimeout(ctx, g.p.Timeout)
		g.probeErr = g.probe(pctx)
		cancel()
		if g.probeErr != nil {
			if ctx.Err() != nil {
				return true, g.canceled(ctx.Err())
			}
			if errors.Is(g.probeErr, ErrPermanent) {
				return true, g.fail("health check failed", g.probeErr)
			}
			return g.failed(now)
		}
	}
	if now.Sub(g.since) >= g.p.Stable {
		return true, nil
	}
	return false, nil
}

// observe records a state read.
func (g *gate) observe(st systemd.UnitState) {
	if !g.seen {
		g.first, g.seen = st, true
	}
	g.last = st
}

// closeWindow ends the stable window because the unit went down or its
// main process changed, remembering how long it had been up.
func (g *gate) closeWindow(now time.Time) {
	if !g.open {
		return
	}
	g.open = false
	g.ran = now.Sub(g.since)
	g.restarted = true
}

// failed counts a failed poll and gives up once Retries are used.
func (g *gate) failed(now time.Time) (bool, error) {
	g.failures++
	if g.failures < g.p.Retries {
		return false, nil
	}
	return true, g.fail(g.reason(now), g.cause())
}

func (g *gate) name() string {
	if g.seen && g.last.ID != "" {
		return g.last.ID
	}
	return "unit"
}

// reason says in words why the unit is not healthy, most telling first.
func (g *gate) reason(now time.Time) string {
	switch {
	case !g.seen:
		return fmt.Sprintf("cannot read unit state (%d attempts over %s)", g.polls, round(now.Sub(g.start)))
	case g.ran == 0 && g.last.NRestarts > g.first.NRestarts:
		return fmt.Sprintf("keeps restarting, never active at a poll (NRestarts %d → %d, %s)",
			g.first.NRestarts, g.last.NRestarts, activeState(g.last))
	case g.restarted || g.last.NRestarts > g.first.NRestarts:
		return fmt.Sprintf("exited %s after start (NRestarts %d → %d, %s)", round(g.ran),
			g.first.NRestarts, g.last.NRestarts, activeState(g.last))
	case !g.last.Active():
		return fmt.Sprintf("not active after %s (%s)", round(now.Sub(g.start)), g.last.Summary())
	case g.probeErr != nil:
		return fmt.Sprintf("health check still failing after %d attempts over %s", g.failures, round(now.Sub(g.start)))
	}
	return fmt.Sprintf("not stable after %s (%s)", round(now.Sub(g.start)), g.last.Summary())
}

// cause is the underlying error to wrap, if any.
func (g *gate) cause() error {
	if g.stateErr != nil {
		return g.stateErr
	}
	return g.probeErr
}

// fail builds the final error: "<unit>: <reason>[: <cause>]", wrapping
// ErrUnhealthy and cause (which may be ErrPermanent).
func (g *gate) fail(reason string, cause error) error {
	if cause == nil {
		return fmt.Errorf("%s: %s: %w", g.name(), reason, ErrUnhealthy)
	}
	if cause == ErrPermanent { // the bare sentinel: say "(permanent failure)" once
		return fmt.Errorf("%s: %s: %w (%w)", g.name(), reason, ErrUnhealthy, ErrPermanent)
	}
	return fmt.Errorf("%s: %s: %w: %w", g.name(), reason, ErrUnhealthy, cause)
}

// canceled reports the caller's context ending, with the last state seen.
func (g *gate) canceled(err error) error {
	if !g.seen {
		return fmt.Errorf("%s: waiting for health: %w", g.name(), err)
	}
	return fmt.Errorf("%s: waiting for health: %w (last: %s)", g.name(), err, g.last.Summary())
}

func activeState(s systemd.UnitState) string {
	if s.SubState == "" {
		return "ActiveState=" + s.ActiveState
	}
	return "ActiveState=" + s.ActiveState + " " + s.SubState
}

// round keeps messages short: "2s", "1m30s", "300ms".
func round(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(time.Second)
	}
	return d.Round(10 * time.Millisecond)
}
