package phase

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/openimsdk/openim-deploy/internal/layout"
	"github.com/openimsdk/openim-deploy/internal/lock"
	"github.com/openimsdk/openim-deploy/internal/release"
)

// AcquireLock takes every host's lease before anything is read for the plan,
// so two applies never interleave on a host, and reads the host's state
// (Gather's script) in the same round trip, once the lease is taken. All or nothing: if one host is
// locked by another run, the leases already taken are released and the run
// stops, naming the holder. The lease is refreshed while the run lasts and
// released in CleanUp, which also runs after Ctrl-C.
type AcquireLock struct{}

// Title implements Phase.
func (AcquireLock) Title() string { return "Lock hosts" }

// LockPath is where the lease of app lives on every host.
func LockPath(app string) string { return path.Join(layout.StateDir, app+".lock") }

// Run implements Phase.
func (AcquireLock) Run(ctx context.Context, r *Run) error {
	holder := lock.CurrentHolder()
	p := LockPath(r.Config.Playbook.App.Name)
	local := NewLocalFiles()
	err := r.EachHost(ctx, func(ctx context.Context, h *Host) error {
		// The host's state is read in the lock's round trip (the rider),
		// right after the lock is taken: one session instead of two.
		if err := h.buildDesired(r, local); err != nil {
			return err
		}
		rh := r.releaseHost(h)
		names, req := gatherRequest(h.Desired)
		script, args := rh.GatherScript(req)
		rider := &lock.Rider{Script: script, Args: args}
		l, err := lock.AcquireWith(ctx, h.Target, p, holder, lock.Options{
			TTL: r.Opts.LockTTL, Wait: r.Opts.LockWait, Sudo: h.Config.Become, Clock: r.Clock,
		}, rider)
		if err != nil {
			h.Fail(OutcomeFailed, err)
			r.Out.HostError(h.Config.Name, "%v", err)
			return err
		}
		if l.Previous != nil {
			r.Out.HostWarn(h.Config.Name, "took over an expired lock: %s", l.Previous)
		}
		// The lease must outlive cancellation of the run's context long
		// enough for CleanUp to release it, so Keep stops on Release only.
		l.Keep(context.WithoutCancel(ctx))
		h.Lease = l
		// A rider that failed is left to Gather, which reads again and
		// reports the failure as a failed gather.
		if rider.Err == nil {
			if st, err := release.ParseGather(rider.Stdout); err == nil {
				if a, err := actualFrom(st, names, rh.Root); err == nil {
					h.Actual, h.gathered = a, true
				}
			}
		}
		return nil
	})
	if err != nil {
		releaseAll(context.WithoutCancel(ctx), r)
		return err
	}
	return nil
}

// CleanUp records the run in each changed host's audit log, then releases
// every lease. Both happen on every host at once, under a deadline, so a
// dead host cannot hold up the others' unlocking.
func (AcquireLock) CleanUp(ctx context.Context, r *Run) {
	ctx, cancel := context.WithTimeout(ctx, cleanupTimeout)
	defer cancel()
	holder := lock.CurrentHolder() // who ran this, once for every host's line
	_ = eachHost(ctx, r.Hosts, r.Opts.Parallel, func(ctx context.Context, h *Host) error {
		if h.Lease != nil {
			r.audit(ctx, h, holder)
		}
		return nil
	})
	releaseAll(ctx, r)
}

// cleanupTimeout bounds what a run does after it ended or was interrupted.
const cleanupTimeout = 20 * time.Second

func releaseAll(ctx context.Context, r *Run) {
	var hosts []*Host
	for _, h := range r.Hosts {
		if h.Lease != nil {
			hosts = append(hosts, h)
		}
	}
	_ = eachHost(ctx, hosts, r.Opts.Parallel, func(ctx context.Context, h *Host) error {
		if err := h.Lease.Release(ctx); err != nil && !errors.Is(err, context.Canceled) {
			r.Out.HostWarn(h.Config.Name, "release lock: %v", err)
		}
		h.Lease = nil
		return nil
	})
}

// audit appends one line about this run to the host's audit log when the
// run changed or failed something there: when, who, from where, what, from
// which release to which, and how it ended. Values of -var never appear:
// only the program and its subcommand are recorded.
func (r *Run) audit(ctx context.Context, h *Host, holder lock.Holder) {
	if r.Opts.Action == "" || h.Plan == nil || h.Target == nil {
		return
	}
	o, _, n := h.Result()
	if n == 0 && o < OutcomeFailed {
		return
	}
	line := fmt.Sprintf("%s user=%s controller=%s action=%s from=%s to=%s outcome=%s",
		r.Clock.Now().UTC().Format(time.RFC3339), safeWord(holder.User), safeWord(holder.Host), r.Opts.Action,
		orDash(h.Plan.PreviousRelease), orDash(h.Plan.Release), o)
	if err := r.releaseHost(h).Audit(ctx, line); err != nil {
		r.Out.HostWarn(h.Config.Name, "%v", err)
	}
}

// safeWord keeps a value to one word of printable characters.
func safeWord(s string) string {
	s = strings.Map(func(c rune) rune {
		if c <= ' ' || c == 0x7f {
			return '_'
		}
		return c
	}, s)
	return orDash(s)
}
