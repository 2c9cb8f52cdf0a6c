package phase

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/openimsdk/openim-deploy/internal/plan"
	"github.com/openimsdk/openim-deploy/internal/release"
	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/unit"
)

// PlanRollback plans the move of every instance back to an earlier
// release kept on the host: the one before current, or To. The release
// holds the unit text it ran with, so its units are restored and each
// instance is pinned to it; StartUnits then rolls them with the rollout
// policy, and SwitchCurrent points current at it.
type PlanRollback struct {
	To string // a release id; "" for the one before current
}

// Title implements Phase.
func (PlanRollback) Title() string { return "Plan rollback" }

// Run implements Phase.
func (p PlanRollback) Run(ctx context.Context, r *Run) error {
	waveOf := map[string]int{}
	for i, wave := range r.Config.Playbook.Waves() {
		for _, name := range wave {
			waveOf[name] = i
		}
	}
	r.Plan = &plan.Plan{}
	err := r.EachHost(ctx, func(ctx context.Context, h *Host) error {
		if r.refusedForeign(h) {
			return nil // the others roll back; this host's recap says why not
		}
		hp, err := p.planHost(ctx, r, h, waveOf)
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

// target picks the release to go back to on one host.
func (p PlanRollback) target(a plan.Actual) (string, error) {
	if p.To != "" {
		if _, ok := a.Releases[p.To]; !ok {
			return "", fmt.Errorf("release %s is not on the host (see openim-deploy releases)", p.To)
		}
		return p.To, nil
	}
	ids := make([]string, 0, len(a.Releases))
	for id := range a.Releases {
		if id < a.Current {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return "", errors.New("no release older than current is kept on the host")
	}
	return slices.Max(ids), nil
}

func (p PlanRollback) planHost(ctx context.Context, r *Run, h *Host, waveOf map[string]int) (*plan.HostPlan, error) {
	a := h.Actual
	to, err := p.target(a)
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
	hp := &plan.HostPlan{Host: h.Config.Name, Release: to, PreviousRelease: a.Current,
		SwitchCurrent: to != a.Current, Protect: plan.Protected(a)}
	hp.Actions = append(hp.Actions, plan.Action{Host: hp.Host, Kind: plan.KindRelease,
		Desc: fmt.Sprintf("roll back from release %s to %s", orDash(a.Current), to)})
	for _, name := range slices.Sorted(maps.Keys(units)) {
		if !bytes.Equal(a.UnitFiles[name], units[name]) {
			hp.UnitFiles = append(hp.UnitFiles, plan.UnitFile{Name: name, Content: units[name]})
			hp.Actions = append(hp.Actions, plan.Action{Host: hp.Host, Kind: plan.KindUnit, Unit: name,
				Desc: "restore " + name + " from release " + to, Detail: plan.UnitDiff(name, a.UnitFiles[name], units[name])})
		}
	}
	uses := map[string][]string{}
	for _, u := range h.Desired.Units {
		uses[u.Unit] = u.Uses
	}
	for _, name := range targetWants(units[unit.TargetName(app.Name)]) {
		base, _, isInstance := strings.Cut(strings.TrimSuffix(name, ".service"), "@")
		file := name
		if isInstance {
			file = base + "@.service"
		}
		drop, err := unit.DropInFromTemplate(app, units[file], to)
		if err != nil {
			return nil, fmt.Errorf("%s in release %s: %w", file, to, err)
		}
		st := a.Units[name]
		same := st.Release == to || (st.Release != "" && uses[base] != nil &&
			plan.SameUses(uses[base], a.Releases[st.Release], a.Releases[to]))
		if !isInstance || (st.Active && same) {
			if !bytes.Equal(a.UnitFiles[release.DropInPath(name)], drop) {
				hp.Pins = append(hp.Pins, plan.UnitFile{Name: release.DropInPath(name), Content: drop})
			}
			continue
		}
		s := plan.Start{Name: name, Unit: base, Wave: waveOf[base], From: st.Release, DropIn: drop,
			Restart: st.Active, Reason: "roll back from release " + orDash(st.Release) + " to " + to}
		hp.Starts = append(hp.Starts, s)
		hp.Actions = append(hp.Actions, plan.Action{Host: hp.Host, Kind: plan.KindRestart, Unit: name, Wave: s.Wave,
			Desc: "restart " + name + " (" + s.Reason + ")"})
	}
	slices.SortStableFunc(hp.Starts, func(x, y plan.Start) int { return x.Wave - y.Wave })
	hp.Reload = len(hp.UnitFiles) > 0 || len(hp.Pins) > 0
	return hp, nil
}

// targetWants lists the units an app target's Wants= lines name.
func targetWants(text []byte) []string {
	var out []string
	for _, line := range strings.Split(string(text), "\n") {
		if v, ok := strings.CutPrefix(line, "Wants="); ok {
			out = append(out, strings.Fields(v)...)
		}
	}
	return out
}
