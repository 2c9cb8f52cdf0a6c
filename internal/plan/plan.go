package plan

import (
	"fmt"
	"io/fs"
	"slices"
)

// Kind names what an action does.
type Kind string

// Action kinds, in the order apply performs them on a host.
const (
	KindUpload  Kind = "upload"        // send a changed or new file into the new release
	KindRemove  Kind = "remove"        // a file the new release no longer has
	KindRelease Kind = "release"       // complete the new release on the host
	KindClean   Kind = "clean"         // remove partial releases of interrupted runs
	KindUnit    Kind = "install-unit"  // write a changed unit file
	KindPin     Kind = "pin"           // point an instance's drop-in at a release, no restart
	KindReload  Kind = "daemon-reload" // make systemd read changed unit files
	KindEnable  Kind = "enable"        // enable units so they start at boot
	KindRun     Kind = "run"           // run a one-shot task; it must exit 0
	KindStart   Kind = "start"         // start an instance that is not running
	KindRestart Kind = "restart"       // restart an instance that runs another release
	KindOrphan  Kind = "remove-unit"   // stop, disable and remove what left the playbook
	KindCurrent Kind = "current"       // point current at the release every instance runs
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
	// From is the release the instance runs now ("" when none).
	From string
	// DropIn is the drop-in that pins it to the wanted release; apply
	// writes it just before the (re)start, never earlier, so an instance
	// that crashes before its turn comes back on the release it ran.
	DropIn []byte
	// Record is what a task's success is recorded as.
	Record string
}

// Link is a file of the new release that is already on the host: From is
// "<release>/<path>" for a file of an existing release, or a path of the
// new release for content uploaded once and linked again. To is the path
// in the new release.
type Link struct {
	From, To string
	// Mode is the mode the new release wants for To. A file already on the
	// host is linked only when it is root's with exactly this mode (and
	// copied otherwise), so no chmod or chown of one release reaches
	// another through a shared inode.
	Mode fs.FileMode
}

// HostPlan is everything apply will do on one host.
type HostPlan struct {
	Host string
	// Release is the release every instance should run after apply.
	Release string
	// NewRelease is set when no release on the host has the wanted files.
	NewRelease bool
	// PreviousRelease is the id current points to before apply ("" on a cold host).
	PreviousRelease string
	Uploads         []Artifact // files to send into the new release
	Links           []Link     // files linked from releases already on the host
	Dups            []Link     // files uploaded once and linked under a second name
	Manifest        map[string]string
	CleanPartials   bool       // remove partial releases of interrupted runs
	UnitFiles       []UnitFile // unit files to write (changed or new)
	Pins            []UnitFile // drop-ins to write now, without a restart
	Reload          bool       // daemon-reload even if nothing is written here
	Enable          []string   // units to enable
	Starts          []Start    // in wave order, playbook order within a wave
	// Orphans are units the tool installed that the playbook no longer
	// places here: stopped and disabled; OrphanFiles are then removed.
	Orphans     []string
	OrphanFiles []string
	// SwitchCurrent points current at Release once every instance runs it.
	SwitchCurrent bool
	// Protect lists releases pruning must keep: the previous one and any
	// an instance still runs.
	Protect []string
	// StartTarget is set when the app target is not active: it is started
	// after every wave, so "systemctl stop <app>.target" reaches every unit.
	StartTarget bool
	Actions     []Action // the above, in apply order, for printing
	// NewUnits summarises the actions that bring up units new on the host,
	// for a short plan; nil when there are none.
	NewUnits *NewUnits
}

// Changed reports whether apply would change anything on the host.
func (h *HostPlan) Changed() bool { return len(h.Actions) > 0 }

// StartsIn reports whether anything starts on the host in wave w.
func (h *HostPlan) StartsIn(w int) bool {
	return slices.ContainsFunc(h.Starts, func(s Start) bool { return s.Wave == w })
}

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

// UnitsDir is the directory inside a release that holds its unit text.
const UnitsDir = "units/"

// EnvDir is the directory inside a release that holds the secret
// environment files (layout.EnvRel).
const EnvDir = "env/"

// Build plans one host. waveOf gives the dependency wave of a playbook
// unit; newID is the id a new release gets if one is needed.
func Build(d Desired, a Actual, waveOf func(unit string) int, newID string) *HostPlan {
	if !d.Placed() {
		return buildUnplaced(d, a)
	}
	hp := &HostPlan{Host: d.Host, PreviousRelease: a.Current, Manifest: map[string]string{}}
	for _, art := range d.Artifacts {
		hp.Manifest[art.Rel] = art.SHA256
	}
	hp.Release = pickRelease(hp.Manifest, a)
	if hp.Release == "" {
		hp.Release, hp.NewRelease = newID, true
		planNewRelease(hp, d, a)
	} else if hp.Release != a.Current {
		hp.Actions = append(hp.Actions, Action{Host: d.Host, Kind: KindRelease,
			Desc: fmt.Sprintf("use release %s, already on the host with the wanted files", hp.Release)})
	}
	if a.Partials > 0 && !hp.NewRelease {
		hp.CleanPartials = true
		hp.Actions = append(hp.Actions, Action{Host: d.Host, Kind: KindClean,
			Desc: fmt.Sprintf("remove %d partial release(s) left by an interrupted run", a.Partials)})
	}
	planUnitFiles(hp, d, a)
	planInstances(hp, d, a, waveOf)
	planReload(hp, d, a)
	planEnable(hp, d, a)
	hp.appendStartActions()
	planOrphans(hp, d, a)
	if hp.Release != a.Current {
		hp.SwitchCurrent = true
		hp.Actions = append(hp.Actions, Action{Host: d.Host, Kind: KindCurrent,
			Desc: "point current at release " + hp.Release + " once every instance runs it"})
	}
	hp.Protect = Protected(a)
	if !a.Units[d.Target].Active {
		hp.StartTarget = true
		hp.Actions = append(hp.Actions, Action{Host: d.Host, Kind: KindStart, Unit: d.Target,
			Desc: "start " + d.Target + " (after every wave)"})
	}
	hp.NewUnits = newUnits(hp, d, a)
	return hp
}

// buildUnplaced plans a host the playbook places nothing on any more: every
// unit the tool installed there for the app (the target included) is
// stopped, disabled and removed, as any orphan. Releases and current stay:
// they are data until uninstall --purge, and a later placement reuses
// them. On a host the app never reached there is nothing to do.
func buildUnplaced(d Desired, a Actual) *HostPlan {
	hp := &HostPlan{Host: d.Host, PreviousRelease: a.Current, Release: a.Current, Manifest: map[string]string{}}
	planOrphans(hp, Desired{Host: d.Host}, a)
	hp.Protect = Protected(a)
	return hp
}

// pickRelease returns a release already on the host whose files are
// exactly the wanted ones: current if it qualifies, else the newest. Reusing
// one means an apply interrupted after its upload sends nothing again.
func pickRelease(want map[string]string, a Actual) string {
	if m, ok := a.Releases[a.Current]; ok && sameFiles(m, want) {
		return a.Current
	}
	ids := sortedKeys(a.Releases)
	for _, id := range slices.Backward(ids) {
		if sameFiles(a.Releases[id], want) {
			return id
		}
	}
	return ""
}

func sameFiles(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
