package plan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
)

// Kind names what an action does.
type Kind string

// Action kinds, in the order apply performs them on a host.
const (
	KindUpload  Kind = "upload"        // send a changed or new file into the new release
	KindRemove  Kind = "remove"        // a file the new release no longer has
	KindRelease Kind = "release"       // complete the new release and switch current to it
	KindUnit    Kind = "install-unit"  // write a changed unit file
	KindReload  Kind = "daemon-reload" // make systemd read changed unit files
	KindEnable  Kind = "enable"        // enable units so they start at boot
	KindRun     Kind = "run"           // run a one-shot task; it must exit 0
	KindStart   Kind = "start"         // start an instance that is not running
	KindRestart Kind = "restart"       // restart an instance whose inputs changed
)

// Action is one line of a plan.
type Action struct {
	Host   string
	Kind   Kind
	Unit   string // systemd unit name for unit actions
	Path   string // release path or unit file name for file actions
	Desc   string // one line for the user
	Detail string // optional multi-line detail: a unit diff, old/new sha256
	Wave   int    // dependency wave for run/start/restart
}

// Start is an instance or task apply must (re)start, and why.
type Start struct {
	Name    string // systemd unit: "openim-push@3.service"
	Unit    string // playbook name: "openim-push"
	Task    bool
	Restart bool // true: running now, restart it; false: start it
	Reason  string
	Wave    int
}

// HostPlan is everything apply will do on one host.
type HostPlan struct {
	Host string
	// NewRelease is set when any release file differs from current.
	NewRelease bool
	// PreviousRelease is the id current points to before apply ("" on a cold host).
	PreviousRelease string
	Uploads         []Artifact // files to send (changed or new)
	Reuse           []string   // release paths to link from the current release
	Removed         []string   // release paths the new release drops
	UnitFiles       []UnitFile // unit files to write (changed or new)
	Enable          []string   // units to enable
	Starts          []Start    // in wave order, playbook order within a wave
	// StartTarget is set when the app target is not active: it is started
	// after every wave, so "systemctl stop <app>.target" reaches every unit.
	StartTarget bool
	Actions     []Action // the above, in apply order, for printing
}

// Changed reports whether apply would change anything on the host.
func (h *HostPlan) Changed() bool { return len(h.Actions) > 0 }

// BytesToSend is the size of all uploads.
func (h *HostPlan) BytesToSend() int64 {
	var n int64
	for _, a := range h.Uploads {
		n += a.Size
	}
	return n
}

// Plan is the plan for every host, in inventory order.
type Plan struct {
	Hosts []*HostPlan
}

// Changed reports whether any host has work.
func (p *Plan) Changed() bool {
	for _, h := range p.Hosts {
		if h.Changed() {
			return true
		}
	}
	return false
}

// Build plans one host. waveOf gives the dependency wave of a playbook unit.
func Build(d Desired, a Actual, waveOf func(unit string) int) *HostPlan {
	hp := &HostPlan{Host: d.Host, PreviousRelease: a.Release}
	changed := planRelease(hp, d, a)
	unitChanged := planUnitFiles(hp, d, a)
	planEnable(hp, d, a)
	planStarts(hp, d, a, changed, unitChanged, waveOf)
	if !a.Units[d.Target].Active {
		hp.StartTarget = true
		hp.Actions = append(hp.Actions, Action{Host: d.Host, Kind: KindStart, Unit: d.Target,
			Desc: "start " + d.Target + " (after every wave)"})
	}
	return hp
}

// planRelease compares release files and returns the set of changed paths.
func planRelease(hp *HostPlan, d Desired, a Actual) map[string]bool {
	changed := map[string]bool{}
	want := map[string]bool{}
	for _, art := range d.Artifacts {
		want[art.Rel] = true
		old, ok := a.Files[art.Rel]
		if ok && old == art.SHA256 {
			hp.Reuse = append(hp.Reuse, art.Rel)
			continue
		}
		changed[art.Rel] = true
		hp.Uploads = append(hp.Uploads, art)
		hp.Actions = append(hp.Actions, Action{
			Host: d.Host, Kind: KindUpload, Path: art.Rel,
			Desc:   uploadDesc(art, old, ok),
			Detail: shaDetail(art, old, ok),
		})
	}
	for _, rel := range sortedKeys(a.Files) {
		if !want[rel] {
			changed[rel] = true
			hp.Removed = append(hp.Removed, rel)
			hp.Actions = append(hp.Actions, Action{Host: d.Host, Kind: KindRemove, Path: rel, Desc: "drop " + rel + " from the new release"})
		}
	}
	if len(changed) > 0 || a.Release == "" {
		hp.NewRelease = true
		hp.Actions = append(hp.Actions, Action{Host: d.Host, Kind: KindRelease,
			Desc: fmt.Sprintf("new release (%d files sent, %d reused), switch current", len(hp.Uploads), len(hp.Reuse))})
	}
	return changed
}

func uploadDesc(art Artifact, old string, existed bool) string {
	verb := "add"
	if existed {
		verb = "update"
	}
	if art.Secret {
		return fmt.Sprintf("%s %s (secret, %s)", verb, art.Rel, modeString(art))
	}
	return fmt.Sprintf("%s %s (%s)", verb, art.Rel, humanBytes(art.Size))
}

func shaDetail(art Artifact, old string, existed bool) string {
	if art.Secret {
		return "" // even a hash of a secret helps a guesser; say nothing
	}
	if !existed {
		return "sha256 " + short(art.SHA256)
	}
	return "sha256 " + short(old) + " -> " + short(art.SHA256)
}

func modeString(art Artifact) string { return fmt.Sprintf("mode %#o", art.Mode.Perm()) }

// planUnitFiles returns the unit file names that change.
func planUnitFiles(hp *HostPlan, d Desired, a Actual) map[string]bool {
	changed := map[string]bool{}
	for _, uf := range d.UnitFiles {
		old, ok := a.UnitFiles[uf.Name]
		if ok && string(old) == string(uf.Content) {
			continue
		}
		changed[uf.Name] = true
		hp.UnitFiles = append(hp.UnitFiles, uf)
		desc := "install " + uf.Name
		if ok {
			desc = "update " + uf.Name
		}
		hp.Actions = append(hp.Actions, Action{Host: d.Host, Kind: KindUnit, Path: uf.Name, Unit: uf.Name,
			Desc: desc, Detail: UnitDiff(uf.Name, old, uf.Content)})
	}
	if len(changed) > 0 {
		hp.Actions = append(hp.Actions, Action{Host: d.Host, Kind: KindReload, Desc: "systemctl daemon-reload"})
	}
	return changed
}

func planEnable(hp *HostPlan, d Desired, a Actual) {
	names := []string{d.Target}
	for _, u := range d.Units {
		names = append(names, u.Names...)
	}
	for _, n := range names {
		if !a.Units[n].Enabled {
			hp.Enable = append(hp.Enable, n)
		}
	}
	if len(hp.Enable) > 0 {
		hp.Actions = append(hp.Actions, Action{Host: d.Host, Kind: KindEnable,
			Desc: "enable " + strings.Join(hp.Enable, " ")})
	}
}

// planStarts decides which instances start or restart. An instance restarts
// only when something it runs from changed: its binary, its unit file, a
// file set it uses, or its environment file. Anything not active starts.
func planStarts(hp *HostPlan, d Desired, a Actual, changedFiles, changedUnits map[string]bool, waveOf func(string) int) {
	for _, u := range d.Units {
		reason := restartReason(u, changedFiles, changedUnits)
		for _, name := range u.Names {
			st := a.Units[name]
			s := Start{Name: name, Unit: u.Unit, Task: u.Task, Wave: waveOf(u.Unit)}
			switch {
			case !st.Active && st.Failed:
				s.Reason = "failed"
			case !st.Active:
				s.Reason = "not running"
			case reason != "":
				s.Restart, s.Reason = true, reason
			default:
				continue
			}
			hp.Starts = append(hp.Starts, s)
		}
	}
	slices.SortStableFunc(hp.Starts, func(x, y Start) int { return x.Wave - y.Wave })
	for _, s := range hp.Starts {
		kind := KindStart
		verb := "start"
		switch {
		case s.Task:
			kind, verb = KindRun, "run"
		case s.Restart:
			kind, verb = KindRestart, "restart"
		}
		hp.Actions = append(hp.Actions, Action{Host: d.Host, Kind: kind, Unit: s.Name, Wave: s.Wave,
			Desc: fmt.Sprintf("%s %s (%s)", verb, s.Name, s.Reason)})
	}
}

func restartReason(u UnitRef, changedFiles, changedUnits map[string]bool) string {
	if changedUnits[u.File] {
		return "unit changed"
	}
	var why []string
	for _, use := range u.Uses {
		for _, rel := range sortedKeys(changedFiles) {
			if rel == use || (strings.HasSuffix(use, "/") && strings.HasPrefix(rel, use)) {
				why = append(why, rel)
			}
		}
	}
	if len(why) == 0 {
		return ""
	}
	if len(why) > 3 {
		return fmt.Sprintf("%s and %d more changed", strings.Join(why[:3], ", "), len(why)-3)
	}
	return strings.Join(why, ", ") + " changed"
}

// UnitDiff returns a unified diff of a unit file; old nil means a new file.
func UnitDiff(name string, old, cur []byte) string {
	from := "/dev/null"
	if old != nil {
		from = "a/" + name
	}
	text, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A:        difflib.SplitLines(string(old)),
		B:        difflib.SplitLines(string(cur)),
		FromFile: from,
		ToFile:   "b/" + name,
		Context:  2,
	})
	if err != nil {
		return ""
	}
	return text
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
}
