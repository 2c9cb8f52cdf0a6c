package plan

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/openimsdk/openim-deploy/internal/ledger"
)

// ErrNeverServed refuses a rollback to a release that never became current
// on the host (it failed its first batch, or was only built): going there
// is an upgrade to an untried release, not an undo. --force allows it.
var ErrNeverServed = errors.New("never became current on this host")

// RollbackTarget picks the release a rollback goes to on one host: to when
// given (kept on the host, and one that served, unless force), else the
// release that was current before the current one by the host's ledger.
// Release ids are never compared: a release that failed between two good
// ones, or a skewed controller clock, cannot make "previous" a release that
// never served.
func RollbackTarget(a Actual, to string, force bool) (string, error) {
	history := ledger.History(ledger.Parse(a.Ledger))
	if to != "" {
		if _, ok := a.Releases[to]; !ok {
			return "", fmt.Errorf("release %s is not on the host (see openim-deploy releases)", to)
		}
		if !force && to != a.Current && !history.Served(to) {
			why := ""
			if history.HasFailed(to) {
				why = " (it failed its health gate)"
			}
			return "", fmt.Errorf("release %s %w%s; --force goes there anyway", to, ErrNeverServed, why)
		}
		return to, nil
	}
	if a.Current == "" {
		return "", errors.New("the app is not deployed on the host (no current release)")
	}
	prev, ok := history.Previous(a.Current, func(id string) bool { _, kept := a.Releases[id]; return kept })
	if !ok {
		if len(history) == 0 {
			return "", errors.New("the host has no release ledger (deployed by an older openim-deploy): name the release with --to (see openim-deploy releases)")
		}
		return "", fmt.Errorf("the ledger names no release kept on the host that was current before %s: name one with --to", a.Current)
	}
	return prev, nil
}

// RollbackInput is what a rollback plan needs about one host besides its
// state: the release to go to, the unit text kept in it, and how to pin a
// unit of it.
type RollbackInput struct {
	Host   string
	To     string
	Target string            // the app target's unit name ("openim.target")
	Units  map[string][]byte // unit files kept in release To, by name
	// Uses maps a playbook unit to the release files it reads: an instance
	// that runs a release identical to To in those files is re-pinned, not
	// restarted.
	Uses   map[string][]string
	WaveOf func(unit string) int
	// DropIn pins the unit defined by file (its text from release To) to To.
	DropIn func(file string, text []byte) ([]byte, error)
}

// Rollback plans the whole difference between what runs on a host and
// release To, as Build does for a playbook: the unit files kept in To are
// restored, every unit its target wants is pinned to To and started or
// restarted (by wave, rolled like any restart), enabled when it is not,
// and what the tool installed that To does not have (a service added since,
// instances beyond To's count) is stopped, disabled and removed. current
// then points at To.
func Rollback(in RollbackInput, a Actual) (*HostPlan, error) {
	to := in.To
	hp := &HostPlan{Host: in.Host, Release: to, PreviousRelease: a.Current, Manifest: map[string]string{},
		SwitchCurrent: to != a.Current, Protect: Protected(a)}
	hp.Actions = append(hp.Actions, Action{Host: hp.Host, Kind: KindRelease,
		Desc: fmt.Sprintf("roll back from release %s to %s", orDash(a.Current), to)})
	d := Desired{Host: in.Host, Target: in.Target}
	for _, name := range slices.Sorted(maps.Keys(in.Units)) {
		d.UnitFiles = append(d.UnitFiles, UnitFile{Name: name, Content: in.Units[name]})
		if !bytes.Equal(a.UnitFiles[name], in.Units[name]) {
			hp.UnitFiles = append(hp.UnitFiles, UnitFile{Name: name, Content: in.Units[name]})
			hp.Actions = append(hp.Actions, Action{Host: hp.Host, Kind: KindUnit, Unit: name,
				Desc: "restore " + name + " from release " + to, Detail: UnitDiff(name, a.UnitFiles[name], in.Units[name])})
		}
	}
	for _, name := range TargetWants(in.Units[in.Target]) {
		base, _, isInstance := strings.Cut(strings.TrimSuffix(name, ".service"), "@")
		file := name
		if isInstance {
			file = base + "@.service"
		}
		text, ok := in.Units[file]
		if !ok {
			return nil, fmt.Errorf("release %s: its target wants %s, but it keeps no %s", to, name, file)
		}
		drop, err := in.DropIn(file, text)
		if err != nil {
			return nil, fmt.Errorf("%s in release %s: %w", file, to, err)
		}
		d.Units = append(d.Units, UnitRef{Unit: base, Names: []string{name}, File: file, Task: !isInstance})
		st := a.Units[name]
		same := st.Release == to || (st.Release != "" && in.Uses[base] != nil &&
			SameUses(in.Uses[base], a.Releases[st.Release], a.Releases[to]))
		if !isInstance || (st.Active && same) {
			why := "a task runs again only when its inputs change"
			if isInstance {
				why = "it runs what release " + to + " has"
			}
			hp.pinIfStale(a, name, drop, why)
			continue
		}
		verb := "start"
		if st.Active {
			verb = "roll back"
		}
		hp.Starts = append(hp.Starts, Start{Name: name, Unit: base, Wave: in.WaveOf(base), From: st.Release, DropIn: drop,
			Restart: st.Active, Reason: verb + " from release " + orDash(st.Release) + " to " + to})
	}
	slices.SortStableFunc(hp.Starts, func(x, y Start) int { return x.Wave - y.Wave })
	planReload(hp, d, a)
	planEnable(hp, d, a)
	hp.appendStartActions()
	planOrphans(hp, d, a)
	if !a.Units[in.Target].Active {
		hp.StartTarget = true
		hp.Actions = append(hp.Actions, Action{Host: hp.Host, Kind: KindStart, Unit: in.Target,
			Desc: "start " + in.Target + " (after every wave)"})
	}
	return hp, nil
}

// TargetWants lists the units an app target's Wants= lines name.
func TargetWants(text []byte) []string {
	var out []string
	for _, line := range strings.Split(string(text), "\n") {
		if v, ok := strings.CutPrefix(line, "Wants="); ok {
			out = append(out, strings.Fields(v)...)
		}
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
