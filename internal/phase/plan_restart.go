package phase

import (
	"context"
	"fmt"
	"slices"

	"github.com/openimsdk/openim-deploy/internal/plan"
	"github.com/openimsdk/openim-deploy/internal/release"
)

// PlanRestart replaces the plan with restarts of the selected instances
// (names checked against the playbook with NewUnitFilter before any host
// was contacted), each on the release it runs now (its drop-in is left as
// it is), so
// StartUnits rolls them with the rollout policy and health gates. It never
// restarts through the app target: a restart of one instance leaves every
// other process on the host running.
type PlanRestart struct {
	// Select names services ("openim-push") or instances
	// ("openim-push@3"); empty selects every service.
	Select []string
}

// Title implements Phase.
func (PlanRestart) Title() string { return "Plan restart" }

// Run implements Phase.
func (p PlanRestart) Run(_ context.Context, r *Run) error {
	waves, _ := waveOf(r.Config.Playbook)
	r.Plan = &plan.Plan{}
	for _, h := range r.Usable() {
		if r.refusedForeign(h) {
			continue // restarting would restart a unit that is not the app's
		}
		hp := &plan.HostPlan{Host: h.Config.Name, Release: h.Actual.Current, PreviousRelease: h.Actual.Current}
		for _, u := range h.Desired.Units {
			for _, name := range u.Names {
				if !p.selects(u.Unit, name, u.Task) {
					continue
				}
				st := h.Actual.Units[name]
				s := plan.Start{Name: name, Unit: u.Unit, Task: u.Task, Wave: waves[u.Unit], From: st.Release,
					DropIn: h.Actual.UnitFiles[release.DropInPath(name)], Restart: st.Active && !u.Task,
					Reason: "restart requested", Record: h.Actual.TaskRuns[u.Unit]}
				if !st.Active {
					s.Reason = "not running"
				}
				hp.Starts = append(hp.Starts, s)
				verb := "restart"
				if !s.Restart {
					verb = "start"
				}
				hp.Actions = append(hp.Actions, plan.Action{Host: hp.Host, Kind: plan.KindRestart, Unit: name,
					Wave: s.Wave, Desc: fmt.Sprintf("%s %s (%s, release %s)", verb, name, s.Reason, orDash(st.Release))})
			}
		}
		slices.SortStableFunc(hp.Starts, func(a, b plan.Start) int { return a.Wave - b.Wave })
		h.Plan = hp
		r.Plan.Hosts = append(r.Plan.Hosts, hp)
	}
	WritePlan(r.Out, r.Plan)
	return nil
}

// selects reports whether the selection names instance unit of playbook
// unit name. With no selection every service is selected, tasks are not.
func (p PlanRestart) selects(name, unit string, task bool) bool {
	if len(p.Select) == 0 {
		return !task
	}
	for _, sel := range p.Select {
		if sel == name || sel+".service" == unit {
			return true
		}
	}
	return false
}
