// Package plan turns what a host should run (Desired) and what it runs now
// (Actual, gathered read-only) into an ordered list of actions. It is pure:
// no I/O, no clock, no map-order output, so `plan` and `apply` agree exactly
// and the same inputs always print the same plan.
//
// The plan compares what *runs*, not what is on disk: every instance is
// pinned to a release, and the release its process runs (its working
// directory, read on the host) is compared with the release it should run.
// An interrupted apply therefore leaves nothing the next plan cannot see.
package plan

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"slices"
	"strings"
)

// Artifact is one file of a release, addressed by its path inside the
// release directory ("bin/openim-api", "config/share.yml", "env/openim-api.env",
// "units/openim-api@.service").
type Artifact struct {
	Rel    string
	SHA256 string
	Size   int64
	Mode   fs.FileMode
	// Local is the controller-side source path; empty for generated content.
	Local string
	// Content holds generated content (secret environment files, unit text).
	Content []byte
	// Builtin reads the bytes of a file the tool itself carries (the
	// embedded readiness probe), only when it is sent: its SHA256 and
	// Size are known without them. Such a file is shipped as it is, not
	// generated for the app: root's, with a fixed mode, like a local
	// file, so a release that has it already is linked from instead of
	// sent again.
	Builtin func() ([]byte, error)
	// Secret marks content that must never be printed.
	Secret bool
	// AppOwned gives the file to the app user (a rendered template the
	// services read); everything else in a release is root's.
	AppOwned bool
	// Fetch is set for a file the host fetches itself from a store
	// (binary = artifact(...)): the controller has none of its bytes, only
	// its SHA-256, and Size is unknown (0).
	Fetch *Fetch
	// Credential, when set, is the name of the systemd credential this
	// file is (credential delivery): Content is the plaintext, which the
	// host encrypts with systemd-creds into Rel, so the controller never
	// knows the file's bytes. SHA256 is then not the file's hash but
	// CredentialHash of the plaintext under the host's key: equal when
	// the secret is, and useless to anyone without that key.
	Credential string
}

// Fetch says where a host fetches an Artifact from.
type Fetch struct {
	URL string
	// Header is an HTTP header line with credentials, "" for none. It is
	// secret: it reaches the host's curl on stdin only, never an argument,
	// a file or the plan's text.
	Header string
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
	// change restarts the unit. It includes the unit's own text under units/.
	Uses []string
	// DropIn renders the drop-in that pins the unit's instances to a release.
	DropIn func(release string) []byte
}

// Desired is what one host should run after apply.
type Desired struct {
	Host      string
	Artifacts []Artifact // sorted by Rel
	// UnitFiles are the unit files to install, rendered.
	UnitFiles []UnitFile
	// Units lists placed units in playbook order.
	Units []UnitRef
	// Target is the app target unit name ("openim.target").
	Target string
	// PlainSecrets, under credential delivery, are the release paths
	// where file delivery keeps this host's sensitive templates in plain
	// text: a release that holds one (or an env file) is retired.
	PlainSecrets []string
}

// Placed reports whether the playbook puts anything on the host: a unit,
// or a file (a file set or a template). Unit text alone (the app target is
// always rendered) is not a placement.
func (d Desired) Placed() bool {
	if len(d.Units) > 0 {
		return true
	}
	for _, a := range d.Artifacts {
		if !strings.HasPrefix(a.Rel, UnitsDir) {
			return true
		}
	}
	return false
}

// UnitFile is a rendered unit file or drop-in; Name is relative to the unit
// directory ("x@.service", or dropInPath("x@0.service") for a drop-in).
type UnitFile struct {
	Name    string
	Content []byte
}

// UnitState is the part of systemd's view of a unit the plan needs.
type UnitState struct {
	ActiveState string // as systemd says: active, activating, failed, ...
	Active      bool   // ActiveState=active
	Enabled     bool   // UnitFileState=enabled
	Failed      bool
	// StartLimitHit: systemd gave up restarting the unit (Result=
	// start-limit-hit) and refuses to start it until reset-failed.
	StartLimitHit bool
	// Release is the release the unit's main process runs, read from its
	// working directory on the host; "" when none runs or it is not one of
	// the app's releases.
	Release string
	// NeedReload is systemd's NeedDaemonReload: the files on disk differ
	// from what systemd loaded.
	NeedReload bool
}

// Actual is what a host runs now, gathered without changing anything.
type Actual struct {
	// Current is the id current points to; "" when the app was never deployed.
	Current string
	// Releases maps every completed release on the host to its manifest
	// (release path -> SHA-256).
	Releases map[string]map[string]string
	// Partials counts releases left half built by interrupted runs.
	Partials int
	// UnitFiles maps installed unit files and drop-ins (by UnitFile.Name)
	// to their content; absent files are missing from the map.
	UnitFiles map[string][]byte
	// Owned lists every file under the unit directory the tool installed
	// for this app: anything there that the playbook no longer places is
	// removed, and nothing else is ever touched.
	Owned []string
	// Wants lists units enabled into the app target.
	Wants []string
	// TaskRuns maps a task to the record of its last success:
	// "<release> <fingerprint>".
	TaskRuns map[string]string
	// Units maps unit names (instances, tasks, the target) to their state.
	Units map[string]UnitState
	// Audit holds the last lines of the host's audit log for the app.
	Audit []string
	// Ledger holds the host's release ledger lines (see package ledger),
	// read only by the commands that need the history (rollback, releases).
	Ledger []string
	// ReleaseUnits maps each completed release to the unit files kept in it
	// (the text it was rendered with), read with the ledger, for rollback.
	ReleaseUnits map[string]map[string][]byte
	// CredKey is the host's key of the app's credential hashes
	// (CredentialHash); nil when it has none yet.
	CredKey []byte
	// Foreign lists paths apply would write (unit files, the target,
	// drop-ins) that hold a file the tool did not write for this app. A
	// host with any is refused: the tool never writes over what it did
	// not create.
	Foreign []Foreign
}

// Foreign is a file in the way of one apply would write.
type Foreign struct {
	Name string // relative to the unit directory, as UnitFile.Name
	// Kind is "file", "link" (a symbolic link), "other" (a directory, ...)
	// or "shadows" (nothing is at Name, but a unit of that name is in
	// another directory systemd loads units from, which Name would shadow).
	Kind string
	// What is a file's first line, where a link points, or the shadowed unit.
	What string
}

// CredentialHash is what a release's manifest records for credential name
// with plaintext content: HMAC-SHA256 under key, the host's own random key
// (kept 0600 root in the app's state directory). Equal plaintexts give
// equal hashes on one host, so a plan sees whether a secret changed; the
// manifest never holds an unkeyed hash a guesser could test values
// against without the key.
func CredentialHash(key []byte, name string, content []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("openim-deploy credential\x00" + name + "\x00"))
	m.Write(content)
	return hex.EncodeToString(m.Sum(nil))
}

// KeyCredentials returns d with the SHA256 of every credential set to
// its CredentialHash under key.
func KeyCredentials(d Desired, key []byte) Desired {
	arts := slices.Clone(d.Artifacts)
	for i, a := range arts {
		if a.Credential != "" {
			arts[i].SHA256 = CredentialHash(key, a.Credential, a.Content)
		}
	}
	d.Artifacts = arts
	return d
}

// generated reports whether a is made for the app by this run (units,
// environment files, templates, check files): small, with its own owner
// and mode set by finalize, so always sent and never linked.
func (a Artifact) generated() bool { return a.Content != nil }
