// The per-instance decision: start, restart, re-pin or leave alone.

package plan

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// planInstances decides, for every instance and task, whether it starts,
// restarts, is re-pinned without a restart, or is left alone. An instance
// restarts when the release its process runs differs from the wanted one
// in a file the unit uses, whatever current or the files on disk say.
func planInstances(hp *HostPlan, d Desired, a Actual, waveOf func(string) int) {
	for _, u := range d.Units {
		drop := u.DropIn(hp.Release)
		for _, name := range u.Names {
			st := a.Units[name]
			s := Start{Name: name, Unit: u.Unit, Task: u.Task, Wave: waveOf(u.Unit), From: st.Release, DropIn: drop}
			if u.Task {
				s.Record = hp.Release + " " + fingerprint(u.Uses, hp.Manifest)
				s.Reason = taskReason(u, st, a, hp.Release, hp.Manifest)
			} else {
				s.Reason, s.Restart = serviceReason(u, st, a, hp.Release, hp.Manifest)
			}
			if s.Reason == "" {
				hp.pinIfStale(a, name, drop, "")
				continue
			}
			if strings.HasPrefix(s.Reason, "=") { // equivalent release: re-pin only
				hp.pinIfStale(a, name, drop, s.Reason[1:])
				continue
			}
			hp.Starts = append(hp.Starts, s)
		}
	}
	slices.SortStableFunc(hp.Starts, func(x, y Start) int { return x.Wave - y.Wave })
}

// pinIfStale re-writes an instance's drop-in when it does not pin the
// wanted release, without a restart.
func (hp *HostPlan) pinIfStale(a Actual, name string, drop []byte, why string) {
	rel := dropInPath(name)
	if bytes.Equal(a.UnitFiles[rel], drop) {
		return
	}
	hp.Pins = append(hp.Pins, UnitFile{Name: rel, Content: drop})
	desc := fmt.Sprintf("pin %s to release %s (no restart", name, hp.Release)
	if why != "" {
		desc += ": " + why
	}
	hp.Actions = append(hp.Actions, Action{Host: hp.Host, Kind: KindPin, Unit: name, Path: rel, Desc: desc + ")"})
}
