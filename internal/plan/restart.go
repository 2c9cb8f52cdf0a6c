package plan

import (
	"fmt"
	"slices"
)

// Selected picks the instances a restart or start command acts on: name
// is one systemd unit of u ("openim-push@3.service").
type Selected func(u UnitRef, name string) bool

// Restart plans the restart of the selected instances, each on the release
// it runs now: its drop-in is kept as it is, so nothing moves to another
// release. Running services are restarted (rolled with the rollout policy
// and gated like any restart), the rest started. It never goes through the
// app target: a restart of one instance leaves every other process running.
func Restart(d Desired, a Actual, selected Selected, waveOf func(string) int) *HostPlan {
	hp := &HostPlan{Host: d.Host, Release: a.Current, PreviousRelease: a.Current}
	for _, u := range d.Units {
		for _, name := range u.Names {
			if !selected(u, name) {
				continue
			}
			st := a.Units[name]
			s := inPlace(u, name, a, waveOf, "restart requested")
			s.Restart = st.Active && !u.Task
			if !st.Active {
				s.Reason = "not running"
			}
			hp.Starts = append(hp.Starts, s)
		}
	}
	slices.SortStableFunc(hp.Starts, func(x, y Start) int { return x.Wave - y.Wave })
	for _, s := range hp.Starts {
		verb := "restart"
		if !s.Restart {
			verb = "start"
		}
		hp.Actions = append(hp.Actions, Action{Host: hp.Host, Kind: KindRestart, Unit: s.Name,
			Wave: s.Wave, Desc: fmt.Sprintf("%s %s (%s, release %s)", verb, s.Name, s.Reason, orDash(s.From))})
	}
	return hp
}

// StartStopped plans the start of the selected units that are not running,
// each on the release its drop-in pins now (nothing moves). Selected
// tasks run, as "systemctl start" runs a one-shot unit again. With every
// unit selected (all), an app target that is not active is started after
// every wave, so "systemctl stop <app>.target" reaches them again.
func StartStopped(d Desired, a Actual, selected Selected, all bool, waveOf func(string) int) *HostPlan {
	hp := &HostPlan{Host: d.Host, Release: a.Current, PreviousRelease: a.Current}
	for _, u := range d.Units {
		for _, name := range u.Names {
			st := a.Units[name]
			if !selected(u, name) || (st.Active && !u.Task) {
				continue
			}
			reason := "not running"
			if u.Task {
				reason = "start requested"
			}
			hp.Starts = append(hp.Starts, inPlace(u, name, a, waveOf, reason))
		}
	}
	slices.SortStableFunc(hp.Starts, func(x, y Start) int { return x.Wave - y.Wave })
	hp.appendStartActions()
	if all && len(d.Units) > 0 && !a.Units[d.Target].Active {
		hp.StartTarget = true
		hp.Actions = append(hp.Actions, Action{Host: hp.Host, Kind: KindStart, Unit: d.Target,
			Desc: "start " + d.Target + " (after every wave)"})
	}
	return hp
}

// inPlace is the start of unit name of u on the release it is pinned to
// now: its drop-in as the host holds it, so nothing moves to another
// release, and a task's record as it stands.
func inPlace(u UnitRef, name string, a Actual, waveOf func(string) int, reason string) Start {
	return Start{Name: name, Unit: u.Unit, Task: u.Task, Wave: waveOf(u.Unit), From: a.Units[name].Release,
		DropIn: a.UnitFiles[dropInPath(name)], Reason: reason, Record: a.TaskRuns[u.Unit]}
}
