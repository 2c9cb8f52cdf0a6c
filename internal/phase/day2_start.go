package phase

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/openimsdk/openim-deploy/internal/health"
	"github.com/openimsdk/openim-deploy/internal/systemd"
	"github.com/openimsdk/openim-deploy/internal/unit"
)

// StartSelected starts the picked units in dependency order across the
// fleet, with the same health gate apply uses: wave N starts only when
// every instance of wave N-1 on every host is healthy. Tasks run first in
// their wave and must exit 0. A failed gate stops the run before the next
// wave. Starting everything also starts the app target at the end.
type StartSelected struct {
	Filter UnitFilter
}

// Title implements Phase.
func (StartSelected) Title() string { return "Start units" }

// Run implements Phase.
func (s StartSelected) Run(ctx context.Context, r *Run) error {
	waves, n := waveOf(r.Config.Playbook)
	for w := range n {
		err := r.EachHost(ctx, func(ctx context.Context, h *Host) error {
			return s.startWave(ctx, r, h, unitsInWave(h, s.Filter, waves, w))
		})
		if err != nil {
			r.Out.Warn("stopping: a unit failed to start or its health gate; later waves were not started")
			return err
		}
	}
	if !s.Filter.All() {
		return nil
	}
	app := r.Config.Playbook.App.Name
	return r.EachHost(ctx, func(ctx context.Context, h *Host) error {
		if err := systemd.Start(ctx, h.Target, unit.TargetName(app)); err != nil {
			h.Fail(OutcomeFailed, err)
			return err
		}
		return nil
	})
}

func (s StartSelected) startWave(ctx context.Context, r *Run, h *Host, units []PlacedUnit) error {
	var services []PlacedUnit
	for _, p := range units {
		if !p.Task {
			services = append(services, p)
			continue
		}
		r.Out.Host(h.Config.Name, "run %s", p.Short())
		if err := systemd.Start(ctx, h.Target, p.Name); err != nil {
			return s.fail(ctx, r, h, p, fmt.Errorf("task %s failed: %w", p.Short(), err))
		}
		h.Changed(1)
	}
	for _, p := range services {
		_ = systemd.ResetFailed(ctx, h.Target, p.Name)
		if err := systemd.Start(ctx, h.Target, p.Name); err != nil {
			return s.fail(ctx, r, h, p, fmt.Errorf("start %s: %w", p.Short(), err))
		}
		h.Changed(1)
	}
	if len(services) > 0 {
		r.Out.Host(h.Config.Name, "started %s", shortNames(services))
	}
	poller := health.NewPoller(h.Target)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, p := range services {
		wg.Go(func() {
			probe := health.FromConfig(h.Target, p.Health)
			waited := r.Out.Waiting(h.Config.Name, p.Name) // on a terminal's status line
			err := health.Wait(ctx, r.Clock, poller.State(p.Name), probe, health.PolicyFor(p.Health))
			waited()
			if err != nil {
				mu.Lock()
				errs = append(errs, s.fail(ctx, r, h, p, err))
				mu.Unlock()
				return
			}
			r.Out.Host(h.Config.Name, "healthy %s", p.Short())
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// fail reports a unit that did not come up, with its status and journal.
func (StartSelected) fail(ctx context.Context, r *Run, h *Host, p PlacedUnit, err error) error {
	h.Fail(OutcomeFailed, err)
	r.Out.HostError(h.Config.Name, "%v", err)
	ctx = context.WithoutCancel(ctx)
	if st := systemd.Status(ctx, h.Target, p.Name); st != "" {
		r.Out.Block(h.Config.Name, "systemctl status "+p.Name, st)
	}
	if j := systemd.Journal(ctx, h.Target, p.Name, 30); j != "" {
		r.Out.Block(h.Config.Name, "journalctl -u "+p.Name+" -n 30", j)
	}
	return err
}
