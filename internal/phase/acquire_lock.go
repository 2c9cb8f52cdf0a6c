package phase

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/openimsdk/openim-deploy/internal/layout"
	"github.com/openimsdk/openim-deploy/internal/ledger"
	"github.com/openimsdk/openim-deploy/internal/lock"
	"github.com/openimsdk/openim-deploy/internal/plan"
)

// AcquireLock takes the lease of every host the run will change, once the
// plan is made, so two runs never interleave on a host: the hosts whose
// plan has changes, every host of a command that has no plan (uninstall,
// stop), and any host another run holds (to wait for it with --lock-wait,
// or be refused naming it). A host with nothing to do is not locked: a
// no-op apply is the read alone. All or nothing: if one host cannot be
// locked, the leases already taken are released and the run stops.
//
// The host's state is read again in the lock's round trip, under the
// lease: when it changed since the plan was made (another run came and
// went), the host is planned again from what is there now, and the new
// plan is printed. The lease is refreshed while the run lasts and released
// in CleanUp, which also runs after Ctrl-C.
type AcquireLock struct{}

// Title implements Phase.
func (AcquireLock) Title() string { return "Lock hosts" }

// Skip implements Skipper.
func (AcquireLock) Skip(r *Run) (string, bool) {
	for _, h := range r.Usable() {
		if needsLock(h) {
			return "", false
		}
	}
	return "no host has changes", true
}

// needsLock reports whether the run locks h: it will change h, or
// another run holds it.
func needsLock(h *Host) bool {
	return h.Plan == nil || h.Plan.Changed() || h.Holder.Live()
}

// LockPath is where the lease of app lives on every host.
func LockPath(app string) string { return path.Join(layout.StateDir, app+".lock") }

// Run implements Phase.
func (AcquireLock) Run(ctx context.Context, r *Run) error {
	holder := lock.CurrentHolder(r.Opts.Command)
	p := LockPath(r.Config.Playbook.App.Name)
	var hosts []*Host
	for _, h := range r.Usable() {
		if needsLock(h) {
			hosts = append(hosts, h)
		}
	}
	var mu sync.Mutex // one re-planned host printed at a time
	err := eachHost(ctx, hosts, r.Opts.Parallel, func(ctx context.Context, h *Host) error {
		var rider *lock.Rider
		var rd *hostRead
		if h.Plan != nil {
			var script string
			var args []string
			var err error
			if rd, script, args, err = r.composeRead(h, readOptions{}); err != nil {
				h.Fail(OutcomeFailed, err)
				return err
			}
			rider = &lock.Rider{Script: script, Args: args}
		}
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
		if rider == nil {
			return nil
		}
		if rider.Err == nil {
			err = rd.record(h, rider.Stdout, nil, time.Time{}, time.Time{})
		} else {
			err = rider.Err
		}
		if err != nil {
			err = fmt.Errorf("read the host again under the lock: %w", err)
			h.Fail(OutcomeFailed, err)
			r.Out.HostError(h.Config.Name, "%v", err)
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		return r.replan(h)
	})
	if err != nil {
		releaseAll(context.WithoutCancel(ctx), r)
		return err
	}
	return nil
}

// replan plans h again from the state read under its lease. When that
// changes what the run will do there, the host's new plan is printed:
// what the run does is what the plan said.
func (r *Run) replan(h *Host) error {
	if r.refusedForeign(h) {
		_, err, _ := h.Result()
		return err
	}
	hp, err := r.intent.plan(r, h)
	if err != nil {
		h.Fail(OutcomeFailed, err)
		r.Out.HostError(h.Config.Name, "%v", err)
		return err
	}
	old := h.Plan
	h.Plan = hp
	for i, p := range r.Plan.Hosts {
		if p == old {
			r.Plan.Hosts[i] = hp
		}
	}
	if !slices.EqualFunc(old.Actions, hp.Actions, func(a, b plan.Action) bool { return a.Kind == b.Kind && a.Desc == b.Desc }) {
		r.Out.HostWarn(h.Config.Name, "the host changed since it was read (another run?); planned again from what is there now:")
		WritePlan(r.Out, &plan.Plan{Hosts: []*plan.HostPlan{hp}})
	}
	return nil
}

// CleanUp records the run in each changed host's audit log and releases
// every lease, in one round trip per host (the audit line rides on the
// release). Every host at once, under a deadline, so a dead host cannot
// hold up the others' unlocking.
func (AcquireLock) CleanUp(ctx context.Context, r *Run) {
	ctx, cancel := context.WithTimeout(ctx, cleanupTimeout)
	defer cancel()
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
	holder := lock.CurrentHolder(r.Opts.Command) // who ran this, once for every host's line
	_ = eachHost(ctx, hosts, r.Opts.Parallel, func(ctx context.Context, h *Host) error {
		var rider *lock.Rider
		if line, ok := r.auditLine(h, holder); ok {
			if p, err := r.releaseHost(h).AuditPart(line, r.ledgerLines(h)...); err != nil {
				r.Out.HostWarn(h.Config.Name, "%v", err)
			} else {
				rider = &lock.Rider{Script: p.Script, Args: p.Args}
			}
		}
		if err := h.Lease.ReleaseWith(ctx, rider); err != nil && !errors.Is(err, context.Canceled) {
			r.Out.HostWarn(h.Config.Name, "release lock: %v", err)
		} else if rider != nil && rider.Err != nil {
			r.Out.HostWarn(h.Config.Name, "write audit log: %v", rider.Err)
		}
		h.Lease = nil
		return nil
	})
}

// auditLine is the line this run appends to the host's audit log, when the
// run changed or failed something there: when, who, from where, what, from
// which release to which, and how it ended. Values of -var never appear:
// only the program and its subcommand are recorded.
func (r *Run) auditLine(h *Host, holder lock.Holder) (string, bool) {
	if r.Opts.Action == "" || h.Plan == nil || h.Target == nil {
		return "", false
	}
	o, _, n := h.Result()
	if n == 0 && o < OutcomeFailed {
		return "", false
	}
	return fmt.Sprintf("%s user=%s controller=%s action=%s from=%s to=%s outcome=%s",
		r.Clock.Now().UTC().Format(time.RFC3339), ledger.Word(holder.User), ledger.Word(holder.Host), r.Opts.Action,
		orDash(h.Plan.PreviousRelease), orDash(h.Plan.Release), o), true
}

// ledgerLines are the release ledger's lines for what this run did to h's
// releases, besides "current" (written with the switch): the release it
// built, and, when an instance moved to it failed its gate or was rolled
// back here, that it failed.
func (r *Run) ledgerLines(h *Host) []string {
	hp := h.Plan
	if hp == nil || hp.Release == "" {
		return nil
	}
	now := r.Clock.Now()
	action := orDash(r.Opts.Action)
	var out []string
	if hp.NewRelease && h.pushed {
		out = append(out, ledger.New(now, ledger.Built, hp.Release, map[string]string{"action": action}).Line())
	}
	if failed := h.failedInstances(); len(failed) > 0 && hp.Release != hp.PreviousRelease {
		out = append(out, ledger.New(now, ledger.Failed, hp.Release, map[string]string{
			"action": action, "units": strings.Join(failed, ",")}).Line())
	}
	if h.rolledBack && hp.Release != hp.PreviousRelease {
		out = append(out, ledger.New(now, ledger.RolledBack, hp.Release, map[string]string{
			"action": action, "to": orDash(hp.PreviousRelease)}).Line())
	}
	return out
}
