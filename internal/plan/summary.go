package plan

import (
	"slices"
	"strings"
)

// NewUnits summarises the part of a host's plan that brings up tasks and
// services entirely new on the host: their unit file is installed for the
// first time and every one of their instances starts from nothing. Such
// a "cold" unit needs no per-file or per-instance line to be understood
// (nothing it replaces can break), so the plan can print one line per unit
// instead of one per file, unit diff and instance. It is computed from the
// host's Actions, the very list apply executes: every action it counts is
// marked in Covered, and nothing is counted that is not an action.
type NewUnits struct {
	// Units are the new tasks and services, in wave order, playbook order
	// within a wave.
	Units []NewUnit
	// Shared counts new files read by several new units and by nothing
	// else on the host (a file set all of them use).
	Shared FileCount
	// Covered[i] is true when Actions[i] is counted above.
	Covered []bool
	// EnableRest lists the names of the enable action (HostPlan.Enable)
	// that are not instances of a new unit: the app target, or instances
	// of units that existed already. EnableNew counts the others.
	EnableRest []string
	EnableNew  int
}

// Covers reports whether action i of the host's plan is counted in the
// summary. It is false for a nil summary and for an action appended after
// the summary was made.
func (n *NewUnits) Covers(i int) bool {
	return n != nil && i < len(n.Covered) && n.Covered[i]
}

// NewUnit is one task or service new on the host.
type NewUnit struct {
	Unit  string // playbook name
	Task  bool
	Wave  int
	Files FileCount // new files only this unit reads
	// UnitFiles counts the unit files installed for it (one).
	UnitFiles int
	// Starts counts its instances to start (a task: its one run).
	Starts int
}

// FileCount is a number of files the plan adds and the bytes that go over
// the network for them (a file linked from a release on the host sends none).
type FileCount struct {
	Files int
	Bytes int64
}

// newUnits computes the summary of hp's new units, or nil when there is
// none. It must run after every action is appended.
func newUnits(hp *HostPlan, d Desired, a Actual) *NewUnits {
	starts := map[string]Start{}
	for _, s := range hp.Starts {
		starts[s.Name] = s
	}
	cold := map[string]*NewUnit{}
	var order []*NewUnit
	for _, u := range d.Units {
		if nu := coldUnit(u, a, starts); nu != nil {
			cold[u.Unit] = nu
			order = append(order, nu)
		}
	}
	if len(order) == 0 {
		return nil
	}
	sum := &NewUnits{Covered: make([]bool, len(hp.Actions))}
	instanceOf := map[string]*NewUnit{} // systemd name -> its new unit
	fileOf := map[string]*NewUnit{}     // unit file name -> its new unit
	for _, u := range d.Units {
		if nu := cold[u.Unit]; nu != nil {
			fileOf[u.File] = nu
			for _, n := range u.Names {
				instanceOf[n] = nu
			}
		}
	}
	sent := map[string]int64{}
	for _, art := range hp.Uploads {
		sent[art.Rel] = art.Size
	}
	fetched := map[string]bool{}
	for _, art := range hp.Fetches {
		fetched[art.Rel] = true // its own line: it names the URL, not a size
	}
	cur := a.Releases[a.Current]
	for i, act := range hp.Actions {
		switch act.Kind {
		case KindUpload:
			if _, existed := cur[act.Path]; existed || fetched[act.Path] {
				continue // an update concerns what runs now: shown in full
			}
			readers := readersOf(d.Units, act.Path)
			if len(readers) == 0 || slices.ContainsFunc(readers, func(u string) bool { return cold[u] == nil }) {
				continue
			}
			fc := &sum.Shared
			if len(readers) == 1 {
				fc = &cold[readers[0]].Files
			}
			fc.Files++
			fc.Bytes += sent[act.Path]
			sum.Covered[i] = true
		case KindUnit:
			if nu := fileOf[act.Path]; nu != nil {
				nu.UnitFiles++
				sum.Covered[i] = true
			}
		case KindStart, KindRun:
			if nu := instanceOf[act.Unit]; nu != nil {
				nu.Starts++
				sum.Covered[i] = true
			}
		}
	}
	for _, n := range hp.Enable {
		if instanceOf[n] != nil {
			sum.EnableNew++
		} else {
			sum.EnableRest = append(sum.EnableRest, n)
		}
	}
	slices.SortStableFunc(order, func(x, y *NewUnit) int { return x.Wave - y.Wave })
	for _, nu := range order {
		sum.Units = append(sum.Units, *nu)
	}
	return sum
}

// coldUnit returns u as a new unit when it is new on the host: no unit
// file of its name is installed, and every instance is planned to start
// and was neither running nor failed (a failed instance existed once, and
// the reason it failed deserves its own line).
func coldUnit(u UnitRef, a Actual, starts map[string]Start) *NewUnit {
	if _, installed := a.UnitFiles[u.File]; installed || len(u.Names) == 0 {
		return nil
	}
	wave := 0
	for i, n := range u.Names {
		s, ok := starts[n]
		st := a.Units[n]
		if !ok || s.Restart || st.Active || st.Failed || st.StartLimitHit {
			return nil
		}
		if i == 0 {
			wave = s.Wave
		}
	}
	return &NewUnit{Unit: u.Unit, Task: u.Task, Wave: wave}
}

// readersOf names the units whose Uses include release path rel.
func readersOf(units []UnitRef, rel string) []string {
	var out []string
	for _, u := range units {
		for _, use := range u.Uses {
			if rel == use || (strings.HasSuffix(use, "/") && strings.HasPrefix(rel, use)) {
				out = append(out, u.Unit)
				break
			}
		}
	}
	return out
}
