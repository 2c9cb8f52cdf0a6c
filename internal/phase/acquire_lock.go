package phase

import (
	"context"
	"errors"
	"path"

	"github.com/openimsdk/openim-deploy/internal/layout"
	"github.com/openimsdk/openim-deploy/internal/lock"
)

// AcquireLock takes every host's lease before anything is read for the plan,
// so two applies never interleave on a host. All or nothing: if one host is
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
	err := r.EachHost(ctx, func(ctx context.Context, h *Host) error {
		l, err := lock.Acquire(ctx, h.Target, p, holder, lock.Options{
			TTL: r.Opts.LockTTL, Wait: r.Opts.LockWait, Sudo: h.Config.Become, Clock: r.Clock,
		})
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
		return nil
	})
	if err != nil {
		releaseAll(context.WithoutCancel(ctx), r)
		return err
	}
	return nil
}

// CleanUp releases every lease.
func (AcquireLock) CleanUp(ctx context.Context, r *Run) { releaseAll(ctx, r) }

func releaseAll(ctx context.Context, r *Run) {
	for _, h := range r.Hosts {
		if h.Lease == nil {
			continue
		}
		if err := h.Lease.Release(ctx); err != nil && !errors.Is(err, context.Canceled) {
			r.Out.HostWarn(h.Config.Name, "release lock: %v", err)
		}
		h.Lease = nil
	}
}
