package plan

import (
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
	Fetches         []Artifact // files the host fetches itself into it (Artifact.Fetch)
	// Credentials are files the host encrypts itself into it with
	// systemd-creds, from plaintext sent on stdin (Artifact.Credential).
	Credentials   []Artifact
	Links         []Link // files linked from releases already on the host
	Dups          []Link // files uploaded once and linked under a second name
	Manifest      map[string]string
	CleanPartials bool       // remove partial releases of interrupted runs
	UnitFiles     []UnitFile // unit files to write (changed or new)
	Pins          []UnitFile // drop-ins to write now, without a restart
	Reload        bool       // daemon-reload even if nothing is written here
	Enable        []string   // units to enable
	Starts        []Start    // in wave order, playbook order within a wave
	// Orphans are units the tool installed that the playbook no longer
	// places here: stopped and disabled; OrphanFiles are then removed.
	Orphans     []string
	OrphanFiles []string
	// SwitchCurrent points current at Release once every instance runs it.
	SwitchCurrent bool
	// Protect lists releases pruning must keep: the previous one and any
	// an instance still runs.
	Protect []string
	// Retire lists releases switch removes whatever keep_releases says:
	// they hold secrets in plain text and the host now takes them as
	// encrypted credentials (planRetire).
	Retire []string
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
