// The per-instance decision: start, restart, re-pin or leave alone.

package plan

import (
	"bytes"
	"fmt"
	"slices"
)

// need is what one instance or task needs from apply. It is decided with
// a reason (serviceReason, taskReason), but never read from it.
type need int

const (
	// needNothing: it runs the wanted release (or a task's last run
	// read the same bytes); at most a stale drop-in is rewritten.
	needNothing need = iota
	// needRePin: it runs another release that is identical in every
	// file the unit reads: its drop-in is pointed at the wanted release
	// without a restart, and the reason says so on the pin line.
	needRePin
	// needStart: it is not running, or a task must run again.
	needStart
	// needRestart: it runs a release that differs in a file it reads.
	needRestart
)

// planInstances decides, for every instance and task, whether it starts,
// restarts, is re-pinned without a restart, or is left alone. An instance
// restarts when the release its process runs differs from the wanted one
// in a file the unit uses, whatever current or the files on disk say.
//
// plain (plainSecretReleases) are the releases the move to credentials
// retires: an instance running one restarts although its files are the
// same, so no process runs from a directory removed under it.
func planInstances(hp *HostPlan, d Desired, a Actual, waveOf func(string) int, plain map[string]bool) {
	for _, u := range d.Units {
		drop := u.DropIn(hp.Release)
		for _, name := range u.Names {
			st := a.Units[name]
			s := Start{Name: name, Unit: u.Unit, Task: u.Task, Wave: waveOf(u.Unit), From: st.Release, DropIn: drop}
			var n need
			if u.Task {
				s.Record = hp.Release + " " + fingerprint(u.Uses, hp.Manifest)
				n, s.Reason = taskReason(u, st, a, hp.Release, hp.Manifest)
			} else {
				n, s.Reason = serviceReason(u, st, a, hp.Release, hp.Manifest)
			}
			if n == needRePin && !u.Task && plain[st.Release] {
				n, s.Reason = needRestart, fmt.Sprintf("runs release %s, which holds secrets in plain text and is removed with the move to encrypted credentials", st.Release)
			}
			switch n {
			case needNothing:
				hp.pinIfStale(a, name, drop, "")
				continue
			case needRePin:
				hp.pinIfStale(a, name, drop, s.Reason)
				continue
			}
			s.Restart = n == needRestart
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
