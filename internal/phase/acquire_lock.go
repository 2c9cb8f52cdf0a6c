package phase

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/openimsdk/openim-deploy/internal/layout"
	"github.com/openimsdk/openim-deploy/internal/ledger"
	"github.com/openimsdk/openim-deploy/internal/lock"
	"github.com/openimsdk/openim-deploy/internal/preflight"
)

// AcquireLock takes every host's lease before anything is read for the plan,
// so two applies never interleave on a host, and reads the host in the same
// round trip, once the lease is taken: Gather's state and, with Facts,
// what Preflight judges (a no-op apply is then this round trip and the
// release). All or nothing: if one host is locked by another run, the
// leases already taken are released and the run stops, naming the holder.
// The lease is refreshed while the run lasts and released in CleanUp,
// which also runs after Ctrl-C.
type AcquireLock struct {
	// Facts reads the host's facts with the lock, for a Preflight that
	// follows. A lock that cannot be taken for another reason than a
	// holder (no sudo, a read-only disk) is then diagnosed by pre-flight,
	// which names the cause better than the lock script's failure.
	Facts bool
}

// Title implements Phase.
func (AcquireLock) Title() string { return "Lock hosts" }

// LockPath is where the lease of app lives on every host.
func LockPath(app string) string { return path.Join(layout.StateDir, app+".lock") }

// Run implements Phase.
func (a AcquireLock) Run(ctx context.Context, r *Run) error {
	holder := lock.CurrentHolder(r.Opts.Command)
	p := LockPath(r.Config.Playbook.App.Name)
	local := NewLocalFiles()
	err := r.EachHost(ctx, func(ctx context.Context, h *Host) error {
		if err := h.buildDesired(r, local); err != nil {
			return err
		}
		in, script, args := inspect(r, h, a.Facts, 0)
		rider := &lock.Rider{Script: script, Args: args}
		var forwarding chan error
		if a.Facts {
			forwarding = probeForwarding(ctx, h.Target) // in flight beside the lock's command
		}
		sent := r.Clock.Now()
		l, err := lock.AcquireWith(ctx, h.Target, p, holder, lock.Options{
			TTL: r.Opts.LockTTL, Wait: r.Opts.LockWait, Sudo: h.Config.Become, Clock: r.Clock,
		}, rider)
		received := r.Clock.Now()
		if err != nil {
			var held *lock.HeldError
			if a.Facts && !errors.As(err, &held) && ctx.Err() == nil {
				if perr := diagnoseLock(ctx, r, h); perr != nil {
					err = perr
				}
			}
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
		// What failed to run or parse is left to Preflight and Gather,
		// which ask again and report it as theirs.
		if rider.Err == nil {
			in.record(h, rider.Stdout, sent, received)
		}
		if h.factsRead {
			recordForwarding(&h.Facts, forwarding)
		}
		return nil
	})
	if err != nil {
		releaseAll(context.WithoutCancel(ctx), r)
		return err
	}
	return nil
}

// diagnoseLock runs pre-flight alone on a host whose lock could not be
// taken, and returns its refusal when it has one.
func diagnoseLock(ctx context.Context, r *Run, h *Host) error {
	f, err := GatherFacts(ctx, h.Target, r.Config.Playbook.App.Root, instanceNames(h)...)
	if err != nil {
		return nil
	}
	h.Facts, h.factsRead = f, true
	req, err := requirements(r, h, &binaryCache{memo: map[string]preflight.Binary{}})
	if err != nil {
		return nil
	}
	ps := preflight.Check(f, req, r.Clock.Now())
	if r.Opts.Strict {
		ps = preflight.Strict(ps)
	}
	if err := preflight.Err(ps); err != nil {
		return fmt.Errorf("%w: no host was changed: %w", preflight.ErrRefused, err)
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
