package phase

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/plan"
	"github.com/openimsdk/openim-deploy/internal/release"
	"github.com/openimsdk/openim-deploy/internal/ui"
)

// RolloutOverride adjusts a service's rollout policy for one run (the
// --batch, --canary and --pause flags); nil keeps the playbook's.
type RolloutOverride func(config.Rollout) config.Rollout

// rollItem is one running instance to restart onto a new release.
type rollItem struct {
	h *Host
	s plan.Start
}

func (it rollItem) String() string { return it.h.Config.Name + "/" + it.s.Name }

// rollWave restarts, service by service in playbook order, the running
// instances of wave w that must move to a new release, in batches. A
// service is not rolled when it depends on a failure (blocked) or when one
// of its own instances failed in this run (failed): rolling it would move
// more instances onto a release that just failed, or a dependent onto a
// release its dependency did not reach. With --keep-going a failed service
// does not stop the services after it; their errors are joined.
func (r *Run) rollWave(ctx context.Context, w int, blocked, failed map[string]bool) error {
	var errs []error
	for _, svc := range r.Config.Playbook.Services {
		items := r.rollItems(svc.Name, w)
		if len(items) == 0 {
			continue
		}
		if blocked[svc.Name] || failed[svc.Name] {
			why := "a dependency failed its health gate"
			if failed[svc.Name] {
				why = "an instance of " + svc.Name + " failed in this run"
			}
			for _, it := range items {
				r.Out.HostWarn(it.h.Config.Name, "not restarting %s: %s", it.s.Name, why)
			}
			continue
		}
		if err := r.rollService(ctx, svc, items); err != nil {
			if !r.Opts.KeepGoing || r.mustStop(ctx) {
				return err
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// rollItems are the instances of service the hosts' plans restart, in
// wave w, or in every wave when w is negative (the plan's hook lines).
func (r *Run) rollItems(service string, w int) []rollItem {
	var items []rollItem
	for _, h := range r.Usable() {
		if h.Plan == nil {
			continue
		}
		for _, s := range h.Plan.Starts {
			if s.Unit == service && (w < 0 || s.Wave == w) && s.Restart {
				items = append(items, rollItem{h, s})
			}
		}
	}
	return items
}

// policy is svc's rollout policy for this run.
func (r *Run) policy(svc *config.Service) config.Rollout {
	pol := svc.Rollout
	if pol.Batch == 0 && pol.BatchPercent == 0 {
		pol = config.DefaultRollout()
	}
	if r.Opts.Rollout != nil {
		pol = r.Opts.Rollout(pol)
	}
	return pol
}

// spread orders items so that consecutive ones are on different hosts
// where possible: the first instance of every host, then the second of
// every host, and so on, hosts in inventory order.
func spread(items []rollItem) []rollItem {
	var hosts []*Host
	per := map[*Host][]rollItem{}
	for _, it := range items {
		if _, ok := per[it.h]; !ok {
			hosts = append(hosts, it.h)
		}
		per[it.h] = append(per[it.h], it)
	}
	out := make([]rollItem, 0, len(items))
	for i := 0; len(out) < len(items); i++ {
		for _, h := range hosts {
			if i < len(per[h]) {
				out = append(out, per[h][i])
			}
		}
	}
	return out
}

// batches cuts items into the canary batch (when set) and batches of size.
func batches(items []rollItem, canary, size int) [][]rollItem {
	var out [][]rollItem
	if canary > 0 && canary < len(items) {
		out = append(out, items[:canary])
		items = items[canary:]
	}
	for len(items) > 0 {
		n := min(size, len(items))
		out = append(out, items[:n])
		items = items[n:]
	}
	return out
}

// rollService restarts items batch by batch. Each batch spreads over hosts,
// restarts through the template instances (never the target, which would
// restart every member at once), and passes its health gate before the
// next starts. When a batch fails, no further batch starts and, with
// auto_rollback, every instance this run moved goes back to the release it
// ran, batch by batch, gated the same way.
//
// Hooks run around each batch: before_batch before anything in it
// restarts (a failure fails the batch with nothing in it touched),
// after_batch once it passed its gate (a failure fails it as a failed
// gate does); either way the rollout's failure policy applies.
func (r *Run) rollService(ctx context.Context, svc *config.Service, items []rollItem) error {
	pol := r.policy(svc)
	items, bs, size := r.rollBatches(svc, items)
	var moved []rollItem
	for i, batch := range bs {
		if err := leasesLost(r); err != nil {
			return err
		}
		if err := r.interrupted(ctx); err != nil {
			if len(moved) > 0 {
				r.Out.Warn("rolling %s: stopped after batch %d of %d; the rest are left as they were (a re-run goes on)", svc.Name, i, len(bs))
			}
			return err
		}
		start := r.Clock.Now()
		r.event("batch_start", fmt.Sprintf("rolling %s: batch %d/%d: %s", svc.Name, i+1, len(bs), itemNames(batch)), svc.Name, batch)
		ref := batchRef{svc: svc, items: batch, n: i + 1, of: len(bs)}
		if err := r.runHooks(ctx, config.HookBeforeBatch, ref); err != nil {
			r.failHosts(batch, err)
			r.event("batch_failed", fmt.Sprintf("rolling %s: batch %d: its before_batch hook failed; nothing in it was restarted and no further batch starts", svc.Name, i+1), svc.Name, batch)
			if rest := items[len(moved):]; len(rest) > 0 {
				r.Out.Warn("not reached after the failure (left as they were): %s", strings.Join(strings.Fields(itemNames(rest)), ", "))
			}
			if pol.AutoRollback && len(moved) > 0 {
				r.rollBack(ctx, svc, moved, size)
			}
			return fmt.Errorf("rolling %s: batch %d/%d: %w", svc.Name, i+1, len(bs), err)
		}
		_, err := r.runBatch(ctx, batch, func(it rollItem) plan.Start { return it.s }, nil)
		moved = append(moved, batch...)
		what := "failed its gate"
		if err == nil {
			if err = r.runHooks(ctx, config.HookAfterBatch, ref); err != nil {
				r.failHosts(batch, err)
				err = fmt.Errorf("rolling %s: batch %d/%d: %w", svc.Name, i+1, len(bs), err)
				what = "failed its after_batch hook"
			}
		}
		if err != nil {
			r.event("batch_failed", fmt.Sprintf("rolling %s: batch %d %s; no further batch starts", svc.Name, i+1, what), svc.Name, batch)
			if rest := items[len(moved):]; len(rest) > 0 {
				r.Out.Warn("not reached after the failure (left as they were): %s", strings.Join(strings.Fields(itemNames(rest)), ", "))
			}
			if pol.AutoRollback {
				r.rollBack(ctx, svc, moved, size)
			}
			return err
		}
		r.event("batch_done", fmt.Sprintf("rolling %s: %d/%d instances done (batch took %s)", svc.Name, len(moved), len(items),
			r.Clock.Now().Sub(start).Round(100*time.Millisecond)), svc.Name, batch)
		if i == len(bs)-1 {
			break
		}
		if err := r.betweenBatches(ctx, svc, pol, i == 0 && pol.Canary > 0); err != nil {
			return err
		}
	}
	return nil
}

// rollBatches orders svc's items to roll (spread over hosts) and cuts
// them into the policy's batches; size is the batch size.
func (r *Run) rollBatches(svc *config.Service, items []rollItem) (ordered []rollItem, bs [][]rollItem, size int) {
	pol := r.policy(svc)
	ordered = spread(items)
	size = min(pol.BatchSize(len(ordered)), pol.Unavailable(len(ordered)))
	return ordered, batches(ordered, pol.Canary, size), size
}

// failHosts records err as the failure of every host of batch (a batch
// failed by its hook fails as a batch failed by its gate does).
func (r *Run) failHosts(batch []rollItem, err error) {
	for _, h := range batchHosts(batch) {
		h.Fail(OutcomeFailed, err)
	}
}

// betweenBatches waits between two batches: after a canary, for
// confirmation (or the pause in a non-interactive run); otherwise the pause.
// The first Ctrl-C ends either wait: nothing is under way there, so it is
// a settled point.
func (r *Run) betweenBatches(ctx context.Context, svc *config.Service, pol config.Rollout, canary bool) error {
	if canary && r.Opts.Confirm != nil {
		if r.Opts.Confirmed {
			r.Out.Info("rolling %s: canary healthy; continuing (--confirm)", svc.Name)
			return nil
		}
		r.Out.Info("rolling %s: canary healthy; waiting for confirmation to continue", svc.Name)
		wait, stop := r.untilInterrupt(ctx)
		defer stop()
		if err := r.Opts.Confirm(wait, pol.Pause); err != nil {
			if ierr := r.interrupted(ctx); ierr != nil {
				return ierr
			}
			return err
		}
		return r.interrupted(ctx)
	}
	if pol.Pause <= 0 {
		return nil
	}
	r.Out.Info("rolling %s: pausing %s before the next batch", svc.Name, pol.Pause)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-r.Opts.Interrupt:
		return r.interrupted(ctx)
	case <-r.Clock.After(pol.Pause):
		return nil
	}
}

// untilInterrupt returns a context that ends with ctx or at the first
// Ctrl-C, for waits that hold nothing under way.
func (r *Run) untilInterrupt(ctx context.Context) (context.Context, context.CancelFunc) {
	wait, cancel := context.WithCancel(ctx)
	if r.Opts.Interrupt != nil {
		go func() { // ends with wait: the caller cancels it when done
			select {
			case <-r.Opts.Interrupt:
				cancel()
			case <-wait.Done():
			}
		}()
	}
	return wait, cancel
}

// runBatch restarts one batch: its hosts side by side, the instances of a
// host one at a time, then every gate at once. startOf gives each item's
// start (the rollout's or the rollback's); extra, per host, are files to
// write with the drop-ins.
func (r *Run) runBatch(ctx context.Context, batch []rollItem, startOf func(rollItem) plan.Start, extra func(*Host) []release.File) (map[*Host]error, error) {
	var hosts []*Host
	per := map[*Host][]plan.Start{}
	for _, it := range batch {
		if _, ok := per[it.h]; !ok {
			hosts = append(hosts, it.h)
		}
		per[it.h] = append(per[it.h], startOf(it))
	}
	var mu sync.Mutex
	failed := map[*Host]error{}
	err := eachHost(ctx, hosts, r.Opts.Parallel, func(ctx context.Context, h *Host) error {
		var files []release.File
		if extra != nil {
			files = extra(h)
		}
		err := startOnHost(ctx, r, h, per[h], files)
		if err != nil {
			mu.Lock()
			failed[h] = err
			mu.Unlock()
		}
		return err
	})
	return failed, err
}

// rollBack moves the instances this run moved back to the release each ran
// before, restoring the drop-in and the template text it had, and reports
// which release every one of them runs afterwards. It is the run's safety
// net, so the first Ctrl-C does not stop it and a batch under way always
// finishes (its work runs on a context that is never cancelled); a second
// Ctrl-C (ctx cancelled) stops it before its next batch, and the report
// says which instances were left on the release they were rolled to.
func (r *Run) rollBack(ctx context.Context, svc *config.Service, moved []rollItem, size int) {
	work := context.WithoutCancel(ctx)
	r.Out.Warn("rolling %s: auto-rollback of %d instance(s): %s", svc.Name, len(moved), itemNames(moved))
	back := func(it rollItem) plan.Start {
		s := it.s
		s.Reason = "rollback to release " + orDash(s.From)
		s.DropIn = pinBack(it.h, s)
		return s
	}
	template := func(h *Host) []release.File {
		name := svc.Name + "@.service"
		for _, uf := range h.Plan.UnitFiles {
			if uf.Name == name {
				if old, ok := h.Actual.UnitFiles[name]; ok {
					return []release.File{{Rel: name, Content: old}}
				}
			}
		}
		return nil
	}
	result := map[string]string{} // until its batch runs: left where the rollout put it
	for _, it := range moved {
		result[it.String()] = orDash(it.h.Plan.Release) + " (the rollback was stopped by Ctrl-C before it)"
		it.h.mu.Lock()
		it.h.rolledBack = true
		it.h.mu.Unlock()
	}
	bs := batches(moved, 0, size)
	for i, batch := range bs {
		if ctx.Err() != nil {
			r.Out.Warn("rolling back %s: stopped by Ctrl-C before batch %d", svc.Name, i+1)
			break
		}
		r.event("rollback", fmt.Sprintf("rolling back %s: batch %d: %s", svc.Name, i+1, itemNames(batch)), svc.Name, batch)
		// The rollback restarts instances that serve, so the batch is
		// drained first as any batch is; a hook failing here is said and
		// the rollback goes on: it is the run's safety net.
		ref := batchRef{svc: svc, items: batch, n: i + 1, of: len(bs)}
		if err := r.runHooks(work, config.HookBeforeBatch, ref); err != nil {
			r.Out.Warn("rolling back %s: batch %d: %v; rolling back anyway", svc.Name, i+1, err)
		}
		failed, _ := r.runBatch(work, batch, back, template)
		if len(failed) == 0 {
			if err := r.runHooks(work, config.HookAfterRollback, ref); err != nil {
				r.Out.Warn("rolling back %s: batch %d: %v", svc.Name, i+1, err)
			}
		}
		for _, it := range batch {
			if failed[it.h] != nil {
				result[it.String()] = "unknown: the rollback failed too"
			} else {
				result[it.String()] = orDash(it.s.From)
			}
		}
	}
	for _, it := range moved {
		r.Out.HostWarn(it.h.Config.Name, "%s runs release %s after the rollback", it.s.Name, result[it.String()])
	}
}

// pinBack is the drop-in that returns s's instance to the release it ran
// before this run (s.From, read from its process on the host). The drop-in
// gathered before the run is that pin only when it names that release:
// after an interrupted run it may already pin the new release while the
// process still ran the old one, and restoring it would "roll back" onto
// the release that just failed. Otherwise the pin is rendered for s.From.
// With no release known (the instance ran nothing), the gathered drop-in
// is restored as it was.
func pinBack(h *Host, s plan.Start) []byte {
	gathered := h.Actual.UnitFiles[release.DropInPath(s.Name)]
	if s.From == "" || plan.PinnedRelease(gathered) == s.From {
		return gathered
	}
	for _, u := range h.Desired.Units {
		if u.Unit == s.Unit && u.DropIn != nil {
			return u.DropIn(s.From)
		}
	}
	return gathered
}

// event prints a rollout event: a plain line, or with --output json an
// event carrying the service and its instances.
func (r *Run) event(kind, text, service string, items []rollItem) {
	names := make([]string, len(items))
	for i, it := range items {
		names[i] = it.String()
	}
	r.Out.Event(ui.Event{Type: kind, Msg: text, Fields: map[string]any{"service": service, "instances": names}}, text)
}

func itemNames(items []rollItem) string {
	names := make([]string, len(items))
	for i, it := range items {
		names[i] = it.String()
	}
	return strings.Join(names, " ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
