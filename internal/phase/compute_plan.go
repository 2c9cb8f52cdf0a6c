package phase

import (
	"context"

	"github.com/openimsdk/openim-deploy/internal/plan"
)

// ComputePlan turns desired and gathered state into the plan. Pure: it
// reads nothing from the hosts.
type ComputePlan struct{}

// Title implements Phase.
func (ComputePlan) Title() string { return "Plan" }

// Run implements Phase.
func (ComputePlan) Run(_ context.Context, r *Run) error {
	waveOf := map[string]int{}
	for i, wave := range r.Config.Playbook.Waves() {
		for _, name := range wave {
			waveOf[name] = i
		}
	}
	r.Plan = &plan.Plan{}
	for _, h := range r.Usable() {
		h.Plan = plan.Build(h.Desired, h.Actual, func(u string) int { return waveOf[u] }, r.Opts.ReleaseID)
		r.Plan.Hosts = append(r.Plan.Hosts, h.Plan)
	}
	WritePlan(r.Out, r.Plan)
	return nil
}
