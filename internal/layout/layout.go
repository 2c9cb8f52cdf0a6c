// Package layout names the paths openim-deploy uses on a host, in one place,
// so units, plans and apply phases agree on them. Capistrano-style releases
// make rollback a symlink flip plus a restart:
//
//	<root>/releases/<id>/bin/<binary>     binaries
//	<root>/releases/<id>/<fileset>/...    file sets (config/)
//	<root>/releases/<id>/env/<unit>.env   secret environment, 0600 root
//	<root>/current -> releases/<id>       switched atomically
package layout

import (
	"path"
)

// UnitDir is where generated unit files are installed.
const UnitDir = "/etc/systemd/system"

// VendorUnitDirs are the other directories systemd loads units from
// (systemd.unit(5)): a unit file in UnitDir shadows a unit of the same name
// in any of them, so the tool never installs one whose name is there.
func VendorUnitDirs() []string {
	return []string{
		"/run/systemd/transient", "/run/systemd/system",
		"/usr/local/lib/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system",
	}
}

// StateDir holds the tool's own per-app state on a host (locks).
const StateDir = "/var/lib/openim-deploy"

// Layout is the on-host layout of one app.
type Layout struct {
	Root string // e.g. /opt/openim
}

// Releases is the directory that holds every release.
func (l Layout) Releases() string { return path.Join(l.Root, "releases") }

// Release is the directory of release id.
func (l Layout) Release(id string) string { return path.Join(l.Root, "releases", id) }

// Current is the symlink to the live release.
func (l Layout) Current() string { return path.Join(l.Root, "current") }

// CurrentBin is the path units execute for a binary, through current.
func (l Layout) CurrentBin(binary string) string {
	return path.Join(l.Current(), "bin", path.Base(binary))
}

// CurrentEnvFile is the secret environment file a unit reads, through current.
func (l Layout) CurrentEnvFile(unit string) string {
	return path.Join(l.Current(), "env", unit+".env")
}

// BinRel, EnvRel and FileSetRel are paths inside a release directory.
func BinRel(binary string) string { return path.Join("bin", path.Base(binary)) }

// EnvRel is the secret environment file of unit inside a release.
func EnvRel(unit string) string { return path.Join("env", unit+".env") }

// UnitPath is the installed path of a unit file name such as "openim-api@.service".
func UnitPath(name string) string { return path.Join(UnitDir, name) }

// ReleaseBin is the path of a binary inside release id.
func (l Layout) ReleaseBin(id, binary string) string {
	return path.Join(l.Release(id), "bin", path.Base(binary))
}

// ReleaseEnvFile is the secret environment file of unit inside release id.
func (l Layout) ReleaseEnvFile(id, unit string) string {
	return path.Join(l.Release(id), "env", unit+".env")
}

// ValidReleaseID reports whether id is made only of the characters
// release ids use ([0-9A-Za-z._-], not starting with "." or "-"): none of
// them means anything to systemd, a shell or a path, and a hidden name is
// a partial release, never a complete one.
func ValidReleaseID(id string) bool {
	if id == "" || id[0] == '.' || id[0] == '-' {
		return false
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// AppStateDir is the tool's own state for app on a host.
func AppStateDir(app string) string { return path.Join(StateDir, app) }

// Paths of credential delivery (secret_delivery), inside a release. Only
// encrypted credentials and the wrapper live under .creds/: never a plain
// secret.
const (
	// CredsDir holds a release's encrypted credentials.
	CredsDir = ".creds/"
	// CredRunRel is the wrapper (unit's credenv.sh) a unit with secret
	// environment values runs under.
	CredRunRel = CredsDir + "run"
)

// CredEnvRel is the encrypted secret environment of unit inside a release.
func CredEnvRel(unit string) string { return path.Join(CredsDir, "env", unit+".cred") }

// CredFileRel is the encrypted sensitive template whose destination is
// dest, inside a release.
func CredFileRel(dest string) string { return path.Join(CredsDir, "files", dest+".cred") }
