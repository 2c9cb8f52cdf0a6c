package phase

import (
	"context"
	"errors"
	"fmt"

	"github.com/openimsdk/openim-deploy/internal/systemd"
	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/unit"
)

// StopUnits stops the picked units in reverse dependency order across the
// fleet: wave N is stopped on every host before wave N-1 is touched, so
// nothing loses a dependency while it still runs. Each "systemctl stop"
// returns when the units are down, which includes their stop timeout
// (TimeoutStopSec, then SIGKILL). Stopping everything also stops the app
// target, last, once its members are already down.
type StopUnits struct {
	Filter UnitFilter
}

// Title implements Phase.
func (StopUnits) Title() string { return "Stop units" }

// Run implements Phase.
func (s StopUnits) Run(ctx context.Context, r *Run) error {
	g := r.graph()
	for w := g.Waves() - 1; w >= 0; w-- {
		// A host that fails to stop a dependent drops out (it is no longer
		// Usable), so its dependencies are not stopped under it; the other
		// hosts carry on.
		_ = r.EachHost(ctx, func(ctx context.Context, h *Host) error {
			units := unitsInWave(h, s.Filter, g, w)
			if len(units) == 0 {
				return nil
			}
			if err := stopUnits(ctx, h.Target, unitNames(units)); err != nil {
				h.Fail(OutcomeFailed, err)
				r.Out.HostError(h.Config.Name, "%v", err)
				return err
			}
			h.Changed(len(units))
			r.Out.Host(h.Config.Name, "stopped %s", shortNames(units))
			return nil
		})
	}
	if !s.Filter.All() {
		return hostErrors(r, OutcomeUnreachable)
	}
	app := r.Config.Playbook.App.Name
	_ = r.EachHost(ctx, func(ctx context.Context, h *Host) error {
		if err := systemd.Stop(ctx, h.Target, unit.TargetName(app)); err != nil {
			h.Fail(OutcomeFailed, err)
			return err
		}
		return nil
	})
	return hostErrors(r, OutcomeUnreachable)
}

// stopUnits stops units in one call: systemd stops them in parallel and
// returns when all are down.
func stopUnits(ctx context.Context, t target.Target, units []string) error {
	_, err := t.Run(ctx, target.Cmd{Args: append([]string{"systemctl", "stop", "--"}, units...), Sudo: true})
	if err != nil {
		return fmt.Errorf("stop %v: %w", units, err)
	}
	return nil
}

// hostErrors joins the errors of hosts whose outcome is a failure no
// worse than worst, in inventory order: OutcomeFailed for a step that
// judges the hosts it reached (unreachable ones were reported when they
// dropped out), OutcomeUnreachable for a command's final error.
func hostErrors(r *Run, worst Outcome) error {
	var errs []error
	for _, h := range r.Hosts {
		if o, err, _ := h.Result(); o >= OutcomeFailed && o <= worst && err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", h, err))
		}
	}
	return errors.Join(errs...)
}
