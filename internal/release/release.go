// Package release is the on-host release protocol: how a release directory
// is built, completed, pointed to and pruned, how unit files and per-instance
// drop-ins are installed, and how one read-only script gathers what a host
// runs. Every step is one embedded POSIX sh script (scripts/*.sh, checked by
// shellcheck in make test), run as "sh -c SCRIPT sh ARG...": values arrive as
// positional parameters and stdin, never spliced into the text.
//
// On a host, for an app rooted at <root>:
//
//	<root>/releases/<id>/             one complete release: bin/, file sets,
//	                                  env/ (0600 root), units/ (the unit text
//	                                  it was rendered with), .manifest
//	<root>/releases/.<id>.partial/    a release being built; removed under the
//	                                  lock if a run was interrupted
//	<root>/current -> releases/<id>   the release every instance on the host runs
//	/etc/systemd/system/<svc>@<i>.service.d/release.conf
//	                                  pins one instance to one release
//	/var/lib/openim-deploy/<app>/ran/<task>
//	                                  the inputs a task last succeeded with
//	/var/lib/openim-deploy/<app>/owned
//	                                  every path the tool created for the
//	                                  app, one a line (see scripts/own.sh):
//	                                  what uninstall removes
//
// A release is immutable once renamed into place; its manifest (the SHA-256
// of every file, written by the controller, which already knows them) is
// what later plans compare against, so no run re-hashes a release.
package release

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/openimsdk/openim-deploy/internal/layout"
	"github.com/openimsdk/openim-deploy/internal/target"
)

var (
	//go:embed scripts/gather.sh
	gatherScript string
	//go:embed scripts/prepare.sh
	prepareScript string
	//go:embed scripts/finalize.sh
	finalizeScript string
	//go:embed scripts/install.sh
	installScript string
	//go:embed scripts/switch.sh
	switchScript string
	//go:embed scripts/clean.sh
	cleanScript string
	//go:embed scripts/record.sh
	recordScript string
	//go:embed scripts/audit.sh
	auditScript string
	//go:embed scripts/units.sh
	unitsScript string
	//go:embed scripts/own.sh
	ownScript string
	//go:embed scripts/header.sh
	headerFunc string
	//go:embed scripts/fetch.sh
	fetchScript string
	//go:embed scripts/creds.sh
	credsScript string
)

// withHeader prepends header.sh (header_app) to a script that checks a
// file's header on the host.
func withHeader(script string) string { return headerFunc + script }

// headeredGather is gather.sh with its header, joined once: every host's
// read sends it.
var headeredGather = withHeader(gatherScript)

// Exit statuses of the release scripts, each listed in the header of the
// scripts that use it. A status means the same in every release script;
// any other non-zero status is a command's own failure, named on stderr.
const (
	// exitBadInput: an argument or a record the controller sent is
	// invalid (own.sh: no state directory; install.sh: a path that leaves
	// the unit directory, an unknown record). Nothing was done.
	exitBadInput = 2
	// exitCorrupt: a file arrived truncated or corrupted, its length or
	// SHA-256 not what the controller sent (install.sh, finalize.sh).
	// Nothing was installed, no release committed.
	exitCorrupt = 3
	// exitSystemctl: install.sh put the files in place, then systemctl
	// (enable, daemon-reload or show) failed.
	exitSystemctl = 4
	// ExitForeignFile is install.sh's exit status when a path it was asked
	// to write or remove holds a file the app did not write: nothing was
	// installed or removed.
	ExitForeignFile = 5
	// exitNoFetcher: fetch.sh found neither curl nor wget (curl, for an
	// artifact with credentials). Nothing was fetched.
	exitNoFetcher = 6
	// exitFetchFailed: fetch.sh's download failed (the store unreachable,
	// an HTTP error, a transfer cut short).
	exitFetchFailed = 7
	// exitHashMismatch: fetch.sh fetched a file whose SHA-256 is not the
	// one asked for; it prints the one it got. Nothing was kept.
	exitHashMismatch = 8
)

// ErrForeignFile marks a refusal to write over, or remove, a file under
// the unit directory that the app did not write.
var ErrForeignFile = errors.New("a file the app did not write is in the way")

// ManifestName is the file inside a release that lists its files' hashes.
const ManifestName = ".manifest"

// DropInName is the drop-in, inside "<unit>.d/", that pins a unit to a release.
const DropInName = "release.conf"

// DropInPath is the path of unit's release drop-in relative to the unit
// directory: "openim-push@3.service.d/release.conf".
func DropInPath(unit string) string { return unit + ".d/" + DropInName }

// Manifest maps release-relative paths to their SHA-256 (hex).
type Manifest map[string]string

// Encode renders m as sha256sum output, sorted by path.
func (m Manifest) Encode() []byte {
	paths := make([]string, 0, len(m))
	for p := range m {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var b bytes.Buffer
	for _, p := range paths {
		fmt.Fprintf(&b, "%s  %s\n", m[p], p)
	}
	return b.Bytes()
}

// NewID returns a release id for a release made at now: sortable by time,
// and unique within a second (milliseconds plus a random suffix), so two
// applies in one second never write into the same directory.
func NewID(now time.Time) string {
	var b [2]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	// The same shape as the ids of earlier versions (20261201T101512Z), so
	// old and new ids sort by time together.
	return now.UTC().Format("20060102T150405.000Z") + "-" + hex.EncodeToString(b[:])
}

// Host says how to reach one app on one host.
type Host struct {
	T    target.Target
	Sudo bool   // privileged steps through sudo -n
	Root string // app root, e.g. /opt/openim
	App  string // app name
	// UnitDir is where unit files go: /etc/systemd/system on hosts;
	// tests point it elsewhere.
	UnitDir string
	// StateDir is the tool's state for this app: /var/lib/openim-deploy/<app>.
	StateDir string
	// ShadowDirs are the directories systemd also loads units from
	// (layout.VendorUnitDirs() on hosts): Gather reports a unit file it
	// would install that shadows one of theirs.
	ShadowDirs []string
}

// runOwning runs a script that creates paths for the app after own.sh,
// which records them in the app's state directory for uninstall.
func (h Host) runOwning(ctx context.Context, script string, stdin []byte, args ...string) (target.Result, error) {
	return h.run(ctx, ownScript+script, stdin, false, append([]string{h.StateDir}, args...)...)
}

func (h Host) run(ctx context.Context, script string, stdin []byte, readOnly bool, args ...string) (target.Result, error) {
	cmd := target.Cmd{Args: append([]string{"sh", "-c", script, "sh"}, args...), Sudo: h.Sudo, ReadOnly: readOnly}
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	return h.T.Run(ctx, cmd)
}

// Link is a file of the new release taken from elsewhere on the host:
// From is relative to releases/ ("<id>/bin/x") for Prepare, or to the new
// release for Finalize; To is relative to the new release.
type Link struct {
	From, To string
	// Mode is the mode To must have. Prepare links a file only when it is
	// root's with exactly this mode, and copies it otherwise, so no chmod
	// or chown of one release reaches another through a shared inode.
	Mode fs.FileMode
}

// Prepare creates the app user when missing, removes stale partial
// releases, and starts release id: its directories and the files linked
// from releases already on the host. owner, when set, is the login user who
// uploads the rest into PartialDir(id).
func (h Host) Prepare(ctx context.Context, id, owner, appUser string, dirs []string, links []Link) error {
	args := []string{h.Root, id, owner, appUser}
	args = append(args, dirs...)
	args = append(args, "::link")
	for _, l := range links {
		args = append(args, l.From, l.To, strconv.FormatUint(uint64(l.Mode.Perm()), 8))
	}
	if _, err := h.runOwning(ctx, prepareScript, nil, args...); err != nil {
		return fmt.Errorf("prepare release %s: %w", id, err)
	}
	return nil
}

// PartialDir is where release id is assembled before Finalize.
func (h Host) PartialDir(id string) string { return path.Join(h.Root, "releases", "."+id+".partial") }

// Dir is the directory of a completed release.
func (h Host) Dir(id string) string { return path.Join(h.Root, "releases", id) }

// Finalize links duplicate content inside the new release, writes its
// manifest, checks the files in check (release paths sent without a check
// of their own, see target.Stager) against it in one go, gives the files
// in appOwned to appUser, and renames the release into place.
func (h Host) Finalize(ctx context.Context, id string, dups []Link, m Manifest, appUser string, appOwned, check []string) error {
	args := []string{h.Root, id, appUser}
	for _, l := range dups {
		args = append(args, l.From, l.To)
	}
	if len(appOwned) > 0 {
		args = append(args, "::own")
		args = append(args, appOwned...)
	}
	if len(check) > 0 {
		args = append(args, "::check")
		args = append(args, check...)
	}
	if _, err := h.run(ctx, finalizeScript, m.Encode(), false, args...); err != nil {
		return fmt.Errorf("complete release %s: %w", id, err)
	}
	return nil
}

// Errors of Fetch, for errors.Is.
var (
	// ErrNoFetcher: the host has neither curl nor wget (or no curl for
	// an artifact with credentials).
	ErrNoFetcher = errors.New("no curl or wget on the host")
	// ErrFetchFailed: the host could not download the artifact.
	ErrFetchFailed = errors.New("download failed")
	// ErrHashMismatch: the host downloaded a file with another SHA-256
	// than the playbook names.
	ErrHashMismatch = errors.New("SHA-256 mismatch")
)

// FetchFile is a file of a new release the host fetches itself.
type FetchFile struct {
	Rel    string      // path in the release: "bin/openim-api"
	URL    string      // http:// or https://
	SHA256 string      // what the file must hash to, hex
	Mode   fs.FileMode // its mode once kept
	// Header is an HTTP header line with credentials, "" for none. It
	// reaches the host's curl on stdin only.
	Header string
}

// Fetch has the host download f into the partial release id with its own
// curl or wget (scripts/fetch.sh), keeping it only when its SHA-256 is
// f.SHA256. It runs as the login user, as uploads do: prepare gave it the
// partial release's directories. The controller sends none of the file's
// bytes; the credentials, when any, travel on stdin to curl and are
// redacted from every error.
func (h Host) Fetch(ctx context.Context, id string, f FetchFile) error {
	auth := "0"
	cmd := target.Cmd{Args: []string{"sh", "-c", fetchScript, "openim-deploy-fetch",
		path.Join(h.PartialDir(id), f.Rel), fmt.Sprintf("%04o", f.Mode.Perm()), f.SHA256, f.URL}}
	if f.Header != "" {
		auth = "1"
		cmd.Stdin = bytes.NewReader(CurlConfig(f.Header))
		cmd.Redact = []string{f.Header}
	}
	cmd.Args = append(cmd.Args, auth)
	res, err := h.T.Run(ctx, cmd)
	if err == nil {
		return nil
	}
	var ee *target.ExitError
	if !errors.As(err, &ee) {
		return fmt.Errorf("fetch %s from %s: %w", f.Rel, f.URL, err)
	}
	said := redact(lastLine(ee.Stderr), f.Header)
	switch ee.Code {
	case exitNoFetcher:
		return fmt.Errorf("fetch %s from %s: %w: %s", f.Rel, f.URL, ErrNoFetcher, said)
	case exitFetchFailed:
		return fmt.Errorf("fetch %s from %s: %w: %s", f.Rel, f.URL, ErrFetchFailed, said)
	case exitHashMismatch:
		got := strings.TrimSpace(string(res.Stdout))
		return fmt.Errorf("fetch %s from %s: %w: the host got a file with SHA-256 %s, the playbook says %s; nothing was kept",
			f.Rel, f.URL, ErrHashMismatch, got, f.SHA256)
	}
	return fmt.Errorf("fetch %s from %s: exit status %d: %s", f.Rel, f.URL, ee.Code, said)
}

// CredKeyName is the file, in the app's state directory, that holds the
// key of its credential hashes (plan.CredentialHash): CredKeySize random
// bytes as hex, 0600 root.
const CredKeyName = "credential.key"

// CredKeySize is the length of the key of the credential hashes.
const CredKeySize = 32

// Credential is one secret the host encrypts into a release with
// systemd-creds.
type Credential struct {
	Name    string // the credential's name (LoadCredentialEncrypted=NAME:...)
	Rel     string // the encrypted file in the release
	Content []byte // the plaintext: sent on stdin only
}

// EncryptCredentials has the host encrypt creds into the partial release
// id (scripts/creds.sh), each plaintext piped from stdin straight into
// "systemd-creds encrypt": never an argument or a file on the host. A
// newKey, when not nil, is stored first as the key of the app's
// credential hashes: the host had none, and the plan hashed with it.
func (h Host) EncryptCredentials(ctx context.Context, id string, newKey []byte, creds []Credential) error {
	var in bytes.Buffer
	if newKey != nil {
		fmt.Fprintf(&in, "key %s\n", hex.EncodeToString(newKey))
	}
	for _, c := range creds {
		if strings.ContainsAny(c.Name+c.Rel, " \n") {
			return fmt.Errorf("credential %q: name and path may not hold spaces or newlines", c.Name)
		}
		fmt.Fprintf(&in, "cred %s %d %s\n", c.Name, len(c.Content), c.Rel)
		in.Write(c.Content)
	}
	in.WriteString("end\n")
	if _, err := h.run(ctx, credsScript, in.Bytes(), false, h.StateDir, h.PartialDir(id)); err != nil {
		return fmt.Errorf("encrypt credentials with systemd-creds: %w", err)
	}
	return nil
}

// CurlConfig is the curl configuration (curl -K) that sends header: one
// line, the value quoted so that curl takes it byte for byte.
func CurlConfig(header string) []byte {
	q := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(header)
	return []byte("header = \"" + q + "\"\n")
}

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

func redact(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, "<redacted>")
}

// Clean removes partial releases left by interrupted runs.
func (h Host) Clean(ctx context.Context) error {
	if _, err := h.run(ctx, cleanScript, nil, false, h.Root); err != nil {
		return fmt.Errorf("remove partial releases: %w", err)
	}
	return nil
}

// Switch points current at id and prunes to keep releases, never removing
// id or a protected one. Every release in retire is removed too, whatever
// keep and protect say, unless a drop-in still pins it: the plan retires
// the releases that hold secrets in plain text once the host takes them as
// encrypted credentials (plan.HostPlan.Retire).
func (h Host) Switch(ctx context.Context, id string, keep int, ledgerLine string, protect, retire []string) error {
	if strings.ContainsAny(ledgerLine, "\n\r") {
		return fmt.Errorf("ledger line must be one line")
	}
	for _, r := range retire {
		if !layout.ValidReleaseID(r) {
			return fmt.Errorf("release id %q is not safe to pass to switch", r)
		}
	}
	args := append([]string{h.Root, id, strconv.Itoa(keep), ledgerLine, h.UnitDir}, protect...)
	if len(retire) > 0 {
		args = append(append(args, "::retire"), retire...)
	}
	if _, err := h.runOwning(ctx, switchScript, nil, args...); err != nil {
		return fmt.Errorf("switch current to %s: %w", id, err)
	}
	return nil
}

// RecordTask remembers that task succeeded with inputs fingerprint.
func (h Host) RecordTask(ctx context.Context, task, fingerprint string) error {
	if _, err := h.run(ctx, recordScript, nil, false, h.StateDir, task, fingerprint); err != nil {
		return fmt.Errorf("record task %s: %w", task, err)
	}
	return nil
}

// Audit appends line to the app's audit log on the host.
func (h Host) Audit(ctx context.Context, line string) error {
	p, err := h.AuditPart(line)
	if err != nil {
		return err
	}
	if _, err := h.run(ctx, p.Script, nil, false, p.Args...); err != nil {
		return fmt.Errorf("write audit log: %w", err)
	}
	return nil
}

// AuditPart is what Audit runs, for a caller that folds it into another
// round trip (the lock's release), as a part of target.Compose.
// ledgerLines, each one line, go to the release ledger.
func (h Host) AuditPart(line string, ledgerLines ...string) (target.Part, error) {
	for _, l := range append([]string{line}, ledgerLines...) {
		if strings.ContainsAny(l, "\n\r") {
			return target.Part{}, fmt.Errorf("audit line must be one line")
		}
	}
	return target.Part{Script: auditScript, Args: append([]string{h.StateDir, line}, ledgerLines...)}, nil
}

// File is one file Install writes under the unit directory, or removes.
type File struct {
	Rel     string // relative to the unit directory: "x@.service", "x@0.service.d/release.conf"
	Content []byte
	Mode    fs.FileMode // 0644 when zero
	Delete  bool
}

// Install writes and removes files under the unit directory in one round
// trip. Each file's length and SHA-256 are checked on the host before it is
// renamed into place.
func (h Host) Install(ctx context.Context, files []File) error {
	if len(files) == 0 {
		return nil
	}
	_, err := h.install(ctx, files, nil)
	return err
}

// InstallAndReload is Install, then enables units (when any) and runs one
// daemon-reload, all in the same round trip: "systemctl enable" would
// reload by itself, so it runs with --no-reload before the one reload.
func (h Host) InstallAndReload(ctx context.Context, files []File, enable ...string) error {
	_, err := h.install(ctx, files, append([]string{"reload"}, enable...))
	return err
}

// InstallReloadShow is InstallAndReload, and returns systemd's view (Id
// and NeedDaemonReload) of the units in show, read after the reload in the
// same round trip: "systemctl show" output, one record per unit in order.
func (h Host) InstallReloadShow(ctx context.Context, files []File, enable, show []string) ([]byte, error) {
	after := append([]string{"reload"}, enable...)
	if len(show) > 0 {
		after = append(append(after, "::show"), show...)
	}
	return h.install(ctx, files, after)
}

func (h Host) install(ctx context.Context, files []File, after []string) ([]byte, error) {
	var in bytes.Buffer
	for _, f := range files {
		if f.Delete {
			fmt.Fprintf(&in, "del - - - %s\n", f.Rel)
			continue
		}
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
		}
		sum := sha256.Sum256(f.Content)
		fmt.Fprintf(&in, "put %#o %d %s %s\n", mode.Perm(), len(f.Content), hex.EncodeToString(sum[:]), f.Rel)
		in.Write(f.Content)
	}
	res, err := h.runOwning(ctx, withHeader(installScript), in.Bytes(), append([]string{h.UnitDir, h.App}, after...)...)
	if err != nil {
		var ee *target.ExitError
		if errors.As(err, &ee) && ee.Code == exitSystemctl {
			return nil, fmt.Errorf("unit files installed, then systemctl failed: %w", err)
		}
		if errors.As(err, &ee) && ee.Code == ExitForeignFile {
			return nil, fmt.Errorf("install unit files: %w: %w", ErrForeignFile, err)
		}
		return nil, fmt.Errorf("install unit files: %w", err)
	}
	return res.Stdout, nil
}

// Request says what Gather reads.
type Request struct {
	// Files are unit files and drop-ins to read, relative to the unit directory.
	Files []string
	// Units are the units whose systemd state to read.
	Units []string
	// ShowProperties are passed to systemctl show -p.
	ShowProperties string
	// AuditLines is how many of the audit log's last lines to read; 0
	// reads none (only the releases command shows them).
	AuditLines int
	// Ledger reads the app's release ledger (rollback and releases).
	Ledger bool
}

// Gather reads, in one read-only round trip, the app's releases and their
// manifests, the unit files it installed, systemd's view of every unit and
// the working directory of every main process.
func (h Host) Gather(ctx context.Context, req Request) (*State, error) {
	script, args := h.GatherScript(req)
	res, err := h.run(ctx, script, nil, true, args...)
	if err != nil {
		return nil, fmt.Errorf("gather: %w", err)
	}
	st, err := ParseGather(res.Stdout)
	if err != nil {
		return nil, err
	}
	return st, nil
}

// GatherScript is what Gather runs, for a caller that folds it into
// another round trip (the lock's rider): the constant script and its
// arguments. Its output is parsed by ParseGather.
func (h Host) GatherScript(req Request) (script string, args []string) {
	ledger := "0"
	if req.Ledger {
		ledger = "1"
	}
	args = []string{h.Root, h.App, h.UnitDir, h.StateDir, req.ShowProperties, strconv.Itoa(req.AuditLines), ledger,
		strings.Join(h.ShadowDirs, ":"), strconv.Itoa(len(req.Files))}
	args = append(args, req.Files...)
	args = append(args, req.Units...)
	return headeredGather, args
}

// UnitsPart reads the unit files kept in every release, as one part of a
// composed read-only program; ParseReleaseUnits reads its output.
func (h Host) UnitsPart() target.Part {
	return target.Part{Script: unitsScript, Args: []string{h.Root}}
}

// ReleaseOf returns the release a process with working directory cwd runs:
// the id when cwd is <root>/releases/<id>, else "".
func ReleaseOf(root, cwd string) string {
	rest, ok := strings.CutPrefix(cwd, path.Join(root, "releases")+"/")
	if !ok || strings.Contains(rest, "/") || !layout.ValidReleaseID(rest) {
		return ""
	}
	return rest
}
