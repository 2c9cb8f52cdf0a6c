package phase

import (
	"context"
	"fmt"

	"github.com/openimsdk/openim-deploy/internal/plan"
	"github.com/openimsdk/openim-deploy/internal/systemd"
	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/unit"
)

// PlanRollback plans the move of every instance back to an earlier
// release kept on the host: the one that was current before current by the
// host's release ledger, or To. The release holds the unit text it ran
// with, so its units are restored and each instance is pinned to it, and
// what it does not have is removed (plan.Rollback decides all of it);
// StartUnits then rolls the instances with the rollout policy,
// RemoveOrphans removes the rest, and SwitchCurrent points current at it.
// The run must read the ledger (Options.ReadLedger).
type PlanRollback struct {
	To    string // a release id; "" for the one current before current
	Force bool   // allow To to be a release that never became current
}

// Title implements Phase.
func (PlanRollback) Title() string { return "Plan rollback" }

// Run implements Phase.
func (p PlanRollback) Run(ctx context.Context, r *Run) error {
	waves, _ := waveOf(r.Config.Playbook)
	r.Plan = &plan.Plan{}
	err := r.EachHost(ctx, func(ctx context.Context, h *Host) error {
		if r.refusedForeign(h) {
			return nil // the others roll back; this host's recap says why not
		}
		hp, err := p.planHost(ctx, r, h, func(u string) int { return waves[u] })
		if err != nil {
			h.Fail(OutcomeFailed, err)
			r.Out.HostError(h.Config.Name, "%v", err)
			return err
		}
		h.Plan = hp
		return nil
	})
	for _, h := range r.Usable() {
		r.Plan.Hosts = append(r.Plan.Hosts, h.Plan)
	}
	WritePlan(r.Out, r.Plan)
	return err
}

// planHost reads what the plan needs beyond the gathered state (the unit
// text kept in the target release, and systemd's view of units it has that
// today's playbook does not), then asks plan.Rollback.
func (p PlanRollback) planHost(ctx context.Context, r *Run, h *Host, waveOf func(string) int) (*plan.HostPlan, error) {
	a := h.Actual
	to, err := plan.RollbackTarget(a, p.To, p.Force)
	if err != nil {
		return nil, err
	}
	rh := r.releaseHost(h)
	rh.T = target.ReadOnly(h.Target)
	units, err := rh.Units(ctx, to)
	if err != nil {
		return nil, err
	}
	app := r.Config.Playbook.App
	tgt := unit.TargetName(app.Name)
	var unknown []string
	for _, name := range append(plan.TargetWants(units[tgt]), tgt) {
		if _, ok := a.Units[name]; !ok {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		states, err := systemd.Show(ctx, rh.T, unknown...)
		if err != nil {
			return nil, fmt.Errorf("read the units release %s has: %w", to, err)
		}
		a.Units = cloneUnits(a.Units)
		for i, st := range states {
			a.Units[unknown[i]] = plan.UnitState{ActiveState: st.ActiveState, Active: st.Active(), Enabled: st.Enabled(),
				Failed: st.ActiveState == "failed", NeedReload: st.NeedDaemonReload}
		}
	}
	uses := map[string][]string{}
	for _, u := range h.Desired.Units {
		uses[u.Unit] = u.Uses
	}
	return plan.Rollback(plan.RollbackInput{
		Host: h.Config.Name, To: to, Target: tgt, Units: units, Uses: uses, WaveOf: waveOf,
		DropIn: func(_ string, text []byte) ([]byte, error) { return unit.DropInFromTemplate(app, text, to) },
	}, a)
}

func cloneUnits(m map[string]plan.UnitState) map[string]plan.UnitState {
	out := make(map[string]plan.UnitState, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
