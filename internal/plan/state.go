// Package plan turns what a host should run (Desired) and what it runs now
// (Actual, gathered read-only) into an ordered list of actions. It is pure:
// no I/O, no clock, no map-order output, so `plan` and `apply` agree exactly
// and the same inputs always print the same plan.
package plan

import (
	"io/fs"
)

// Artifact is one file of a release, addressed by its path inside the
// release directory ("bin/openim-api", "config/share.yml", "env/openim-api.env").
type Artifact struct {
	Rel    string
	SHA256 string
	Size   int64
	Mode   fs.FileMode
	// Local is the controller-side source path; empty for generated content.
	Local string
	// Content holds generated content (secret environment files).
	Content []byte
	// Secret marks content that must never be printed.
	Secret bool
}

// UnitRef is one systemd unit the playbook places on a host, with what it
// depends on and which release files it reads.
type UnitRef struct {
	// Unit is the name of the task or service in the playbook.
	Unit string
	// Names are the systemd units to start: "check-component.service", or one
	// "openim-push@3.service" per instance.
	Names []string
	// File is the unit file that defines them ("openim-push@.service").
	File string
	Task bool
	// Uses lists release paths (or directory prefixes ending in "/") whose
	// change restarts the unit.
	Uses []string
}

// Desired is what one host should run after apply.
type Desired struct {
	Host      string
	Artifacts []Artifact // sorted by Rel
	// UnitFiles maps unit file name to its rendered content.
	UnitFiles []UnitFile
	// Units lists placed units in playbook order.
	Units []UnitRef
	// Target is the app target unit name ("openim.target").
	Target string
}

// UnitFile is a rendered unit file.
type UnitFile struct {
	Name    string
	Content []byte
}

// UnitState is the part of systemd's view of a unit the plan needs.
type UnitState struct {
	Active  bool // ActiveState=active
	Enabled bool // UnitFileState=enabled (or static/indirect through the target)
	Failed  bool
}

// Actual is what a host runs now, gathered without changing anything.
type Actual struct {
	// Release is the id current points to; "" when the app was never deployed.
	Release string
	// Files maps release-relative paths in the current release to SHA-256.
	Files map[string]string
	// UnitFiles maps installed unit file names to their content; absent
	// files are missing from the map.
	UnitFiles map[string][]byte
	// Units maps unit names (instances, tasks, the target) to their state.
	Units map[string]UnitState
}
