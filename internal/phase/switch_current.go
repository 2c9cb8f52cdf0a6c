package phase

import (
	"context"

	"github.com/openimsdk/openim-deploy/internal/ledger"
)

// SwitchCurrent points <root>/current at the release every instance on the
// host now runs, and prunes old releases: keep_releases stay, and never the
// previous release or one an instance still runs. It runs last, so current
// never names a release some instance was not moved to.
type SwitchCurrent struct{}

// Title implements Phase.
func (SwitchCurrent) Title() string { return "Switch current" }

// Skip implements Skipper.
func (SwitchCurrent) Skip(r *Run) (string, bool) {
	for _, h := range r.Usable() {
		if h.Plan != nil && h.Plan.SwitchCurrent {
			return "", false
		}
	}
	return "current already names the release every instance runs", true
}

// Run implements Phase.
func (SwitchCurrent) Run(ctx context.Context, r *Run) error {
	keep := r.Config.Playbook.App.KeepReleases
	return r.EachHost(ctx, func(ctx context.Context, h *Host) error {
		hp := h.Plan
		if hp == nil || !hp.SwitchCurrent {
			return nil
		}
		// The ledger line goes with the switch, in the same script: the
		// history of what became current is what rollback goes by.
		line := ledger.New(r.Clock.Now(), ledger.Current, hp.Release, map[string]string{
			"from": orDash(hp.PreviousRelease), "action": orDash(r.Opts.Action)}).Line()
		if err := r.releaseHost(h).Switch(ctx, hp.Release, keep, line, hp.Protect, hp.Retire); err != nil {
			h.Fail(OutcomeFailed, err)
			r.Out.HostError(h.Config.Name, "%v", err)
			return err
		}
		r.Out.Host(h.Config.Name, "current -> releases/%s", hp.Release)
		h.Changed(1)
		return nil
	})
}
