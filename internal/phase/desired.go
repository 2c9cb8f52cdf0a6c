package phase

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/layout"
	"github.com/openimsdk/openim-deploy/internal/plan"
	"github.com/openimsdk/openim-deploy/internal/probe"
	"github.com/openimsdk/openim-deploy/internal/unit"
)

// LocalFiles hashes controller-side files once per run, however many hosts
// receive them: a 100 MB binary sent to 50 hosts is read and hashed once.
// It also keeps what BuildDesired derives from configuration values that
// hosts share (config shares a block's value among hosts when it does not
// depend on the host): unit files rendered for the same tasks and services,
// drop-ins, environment files and file set listings are made once, not
// once per host, and the hosts' desired states share their bytes.
type LocalFiles struct {
	mu      sync.Mutex
	memo    map[string]plan.Artifact
	derived map[any]derived
	// artifacts is the most release files a host's desired state had so
	// far: the next host's list starts that large (hosts of a fleet
	// mostly run the same things), not grown by doubling.
	artifacts atomic.Int64
}

// derived is a memoised result of a pure function of shared config values.
type derived struct {
	v   any
	err error
}

// NewLocalFiles returns an empty cache.
func NewLocalFiles() *LocalFiles {
	return &LocalFiles{memo: map[string]plan.Artifact{}, derived: map[any]derived{}}
}

// once returns fn's result for key, computing it on first use. fn runs
// without the lock (two hosts may both compute a missing entry; the result
// is the same), so one slow render never blocks the others' lookups.
func once[T any](l *LocalFiles, key any, fn func() (T, error)) (T, error) {
	l.mu.Lock()
	d, ok := l.derived[key]
	l.mu.Unlock()
	if !ok {
		v, err := fn()
		d = derived{v, err}
		l.mu.Lock()
		l.derived[key] = d
		l.mu.Unlock()
	}
	v, _ := d.v.(T)
	return v, d.err
}

// Memo keys: config values are immutable once loaded, so their pointers
// identify them for the whole run.
type (
	dropInKey struct {
		u        *config.Unit
		instance bool
		id       string
		creds    string // the credentials' names and paths; "" under file delivery
	}
	envKey     struct{ u *config.Unit }
	walkKey    struct{ fset *config.FileSet }
	specKey    struct{ s *config.Service }
	renderKey  string // the placement's tasks and services, by identity
	desiredKey string // a whole placement, by identity (placementKey)
)

// dropIn is u's drop-in pinning release id, memoized; credsKey is
// credentialsKey(creds), computed once per unit by the caller, since a
// plan asks for a drop-in per instance.
func (l *LocalFiles) dropIn(app config.App, u *config.Unit, instance bool, id string, creds []unit.Credential, credsKey string) ([]byte, error) {
	return once(l, dropInKey{u, instance, id, credsKey}, func() ([]byte, error) {
		return unit.DropInCredentials(app, u, instance, id, creds)
	})
}

// credentialsKey identifies the credentials a drop-in loads: "" under file
// delivery (creds nil).
func credentialsKey(creds []unit.Credential) string {
	if creds == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString("creds;")
	for _, c := range creds {
		fmt.Fprintf(&b, "%s:%s;", c.Name, c.Rel)
	}
	return b.String()
}

// render is unit.Render for hp, shared by every host with the same tasks
// and services (all Render reads of the placement).
func (l *LocalFiles) render(app config.App, hp config.HostPlacement, creds bool) ([]renderedUnit, error) {
	var key strings.Builder
	if creds {
		// Credential delivery reads the placement's templates too, but
		// only their names, destinations and sensitivity (which units load
		// which credential, from where), never their per-host text: hosts
		// with the same units share one render.
		key.WriteString("creds")
		writeTemplateShapes(&key, hp)
	}
	writeUnits(&key, hp)
	return once(l, renderKey(key.String()), func() ([]renderedUnit, error) {
		rend := unit.Render
		if creds {
			rend = unit.RenderCredentials
		}
		files, err := rend(app, hp)
		out := make([]renderedUnit, len(files))
		for i, f := range files {
			sum := sha256.Sum256(f.Content)
			out[i] = renderedUnit{f, hex.EncodeToString(sum[:])}
		}
		return out, err
	})
}

// renderedUnit is a rendered unit file and the SHA-256 of its text.
type renderedUnit struct {
	unit.File
	sha256 string
}

// Artifact hashes local and returns it as release path rel.
func (l *LocalFiles) Artifact(local, rel string) (plan.Artifact, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a, ok := l.memo[local]
	if !ok {
		f, err := os.Open(local)
		if err != nil {
			return plan.Artifact{}, err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return plan.Artifact{}, err
		}
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return plan.Artifact{}, fmt.Errorf("hash %s: %w", local, err)
		}
		mode := fs.FileMode(0o644)
		if st.Mode().Perm()&0o111 != 0 {
			mode = 0o755
		}
		a = plan.Artifact{Local: local, SHA256: hex.EncodeToString(h.Sum(nil)), Size: st.Size(), Mode: mode}
		l.memo[local] = a
	}
	a.Rel = rel
	return a, nil
}

// BuildDesired computes what hp's host should run: release files, unit
// files and the units to start, in playbook order. Unless the playbook
// says secret_delivery = "file", a host with secrets gets them as systemd
// credentials (plan.Desired.DeliversCredentials; their hashes are keyed
// once the host's key is read); a host whose systemd turns out to have
// none gets BuildDesiredFiles instead (chooseDelivery). Only that
// minority pays for a second build: most fleets run systemd 250 or newer.
func BuildDesired(cfg *config.Config, hp config.HostPlacement, local *LocalFiles) (plan.Desired, error) {
	creds := cfg.Playbook.App.SecretDelivery != config.DeliverFile && hasSecrets(hp)
	return buildDesired(cfg, hp, local, creds)
}

// BuildDesiredFiles is BuildDesired under file delivery: secret
// environment values and sensitive templates as 0600 root files in the
// release.
func BuildDesiredFiles(cfg *config.Config, hp config.HostPlacement, local *LocalFiles) (plan.Desired, error) {
	return buildDesired(cfg, hp, local, false)
}

// hasSecrets reports whether anything on hp's host is a secret a
// credential could carry: a secret environment value or a sensitive
// template.
func hasSecrets(hp config.HostPlacement) bool {
	for _, t := range hp.Templates {
		if t.Sensitive {
			return true
		}
	}
	for _, t := range hp.Tasks {
		if len(t.SecretEnvironment) > 0 {
			return true
		}
	}
	for _, s := range hp.Services {
		if len(s.SecretEnvironment) > 0 {
			return true
		}
	}
	return false
}

// buildDesired is BuildDesired under file delivery, or credential
// delivery when creds is set: then every secret environment and sensitive
// template is a credential (plan.Artifact.Credential), encrypted on the
// host, and a unit with secret environment values runs through the
// wrapper layout.CredRunRel.
//
// What a host should run depends on its placement, not on which host it
// is, and templates are the only part whose text is usually per host (a
// host's name or address in a config file). Everything else is built once
// for every placement made of the same (shared) file sets, tasks and
// services and templates of the same names and destinations; each host
// adds only its templates' text. A fleet of 1000 hosts running the same
// things holds one desired state and 1000 lists of release files.
func buildDesired(cfg *config.Config, hp config.HostPlacement, local *LocalFiles, creds bool) (plan.Desired, error) {
	d, err := once(local, placementKey(cfg, hp, creds), func() (plan.Desired, error) {
		return composeDesired(cfg, hp, local, creds)
	})
	d.Host = hp.Host.Name
	if err != nil {
		return d, err
	}
	d.Artifacts = mergeArtifacts(d.Artifacts, templateArtifacts(hp.Templates, creds))
	// The shared slices, clipped: a caller that appends gets its own copy
	// and never writes into another host's state.
	d.UnitFiles, d.Units, d.PlainSecrets = slices.Clip(d.UnitFiles), slices.Clip(d.Units), slices.Clip(d.PlainSecrets)
	return d, nil
}

// placementKey identifies what composeDesired makes of hp: the delivery,
// the file sets, tasks and services by identity (config shares a block's
// value among the hosts it does not depend on), and the templates by
// what of them is not their text.
func placementKey(cfg *config.Config, hp config.HostPlacement, creds bool) desiredKey {
	var key strings.Builder
	fmt.Fprintf(&key, "%p,%t", cfg, creds)
	for _, f := range hp.FileSets {
		fmt.Fprintf(&key, ",f%p", f)
	}
	writeTemplateShapes(&key, hp)
	writeUnits(&key, hp)
	return desiredKey(key.String())
}

// writeTemplateShapes writes to a memo key what of hp's templates is not
// their (per-host) text.
func writeTemplateShapes(key *strings.Builder, hp config.HostPlacement) {
	for _, t := range hp.Templates {
		fmt.Fprintf(key, ",T%q:%q:%t", t.Name, t.Destination, t.Sensitive)
	}
}

// writeUnits writes hp's tasks and services to a memo key, by identity.
func writeUnits(key *strings.Builder, hp config.HostPlacement) {
	for _, t := range hp.Tasks {
		fmt.Fprintf(key, ",t%p", t)
	}
	for _, s := range hp.Services {
		fmt.Fprintf(key, ",s%p", s)
	}
}

// templateArtifacts are the release files of one host's templates, sorted
// by path: a credential for a sensitive one under credential delivery, the
// rendered text otherwise. The first template for a path wins.
func templateArtifacts(templates []*config.Template, creds bool) []plan.Artifact {
	out := make([]plan.Artifact, 0, len(templates))
	for _, t := range templates {
		a := templateArtifact(t)
		if creds && t.Sensitive {
			a = credentialArtifact(unit.TemplateCredential(t))
		}
		if !slices.ContainsFunc(out, func(o plan.Artifact) bool { return o.Rel == a.Rel }) {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b plan.Artifact) int { return strings.Compare(a.Rel, b.Rel) })
	return out
}

// mergeArtifacts merges two lists sorted by path that share none into a
// new one.
func mergeArtifacts(a, b []plan.Artifact) []plan.Artifact {
	out := make([]plan.Artifact, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if a[0].Rel < b[0].Rel {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return append(append(out, a...), b...)
}

// composeDesired builds what buildDesired shares: everything but the
// templates' release files, whose paths it keeps free.
func composeDesired(cfg *config.Config, hp config.HostPlacement, local *LocalFiles, creds bool) (plan.Desired, error) {
	app := cfg.Playbook.App
	d := plan.Desired{Target: unit.TargetName(app.Name)}
	hint := int(local.artifacts.Load())
	d.Artifacts = make([]plan.Artifact, 0, hint)
	seen := make(map[string]bool, hint)
	defer func() {
		for n := int64(len(d.Artifacts)); ; {
			was := local.artifacts.Load()
			if n <= was || local.artifacts.CompareAndSwap(was, n) {
				break
			}
		}
	}()
	add := func(a plan.Artifact) {
		if !seen[a.Rel] {
			seen[a.Rel] = true
			d.Artifacts = append(d.Artifacts, a)
		}
	}
	addUnit := func(u *config.Unit, names []string, file string, task bool) error {
		bin, err := binaryArtifact(u, local)
		if err != nil {
			return fmt.Errorf("%s: %w", u.Name, err)
		}
		bin.Mode = 0o755
		add(bin)
		ref := plan.UnitRef{Unit: u.Name, Names: names, File: file, Task: task,
			Uses: []string{bin.Rel, plan.UnitsDir + file}}
		env, _ := once(local, envKey{u}, func() (*plan.Artifact, error) {
			env := unit.EnvFile(u)
			if env == nil {
				return nil, nil
			}
			sum := sha256.Sum256(env)
			return &plan.Artifact{Rel: layout.EnvRel(u.Name), SHA256: hex.EncodeToString(sum[:]),
				Size: int64(len(env)), Mode: 0o600, Content: env, Secret: true}, nil
		})
		var ucreds []unit.Credential
		if creds {
			var envText []byte
			if env != nil {
				envText = env.Content
			}
			c, err := unit.CredentialsWithEnv(u, hp, envText)
			if err != nil {
				return fmt.Errorf("%s: %w", u.Name, err)
			}
			ucreds = append([]unit.Credential{}, c...) // not nil: credential delivery
			for _, c := range c {
				if c.Env {
					add(plan.Artifact{Rel: layout.CredRunRel, SHA256: credRunSHA, Size: int64(len(unit.CredRun)),
						Mode: 0o755, Content: unit.CredRun})
					ref.Uses = append(ref.Uses, layout.CredRunRel, c.Rel)
					add(credentialArtifact(c))
				}
			}
		}
		// Render once now so a value that cannot go into a drop-in fails
		// here, before any host is touched; ids are validated by the release
		// package, so later renders cannot fail.
		credsKey := credentialsKey(ucreds)
		if _, err := local.dropIn(app, u, !task, "0", ucreds, credsKey); err != nil {
			return fmt.Errorf("%s: %w", u.Name, err)
		}
		ref.DropIn = func(id string) []byte {
			b, err := local.dropIn(app, u, !task, id, ucreds, credsKey)
			if err != nil {
				return []byte("# " + err.Error() + "\n")
			}
			return b
		}
		if env != nil && !creds {
			add(*env)
			ref.Uses = append(ref.Uses, env.Rel)
		}
		// A task re-runs on a file change only when it names its files:
		// re-running a gate restarts every same-host unit that Requires= it
		// (systemd propagates restarts), so a config edit must not do that
		// behind the operator's back.
		if !task || u.FilesSet {
			for _, fset := range u.FilesOn(hp) {
				ref.Uses = append(ref.Uses, fset.Name+"/")
			}
			for _, t := range u.TemplatesOn(hp) {
				if creds && t.Sensitive {
					ref.Uses = append(ref.Uses, layout.CredFileRel(t.Destination))
					continue
				}
				ref.Uses = append(ref.Uses, t.Destination)
			}
		}
		d.Units = append(d.Units, ref)
		return nil
	}
	// Templates first: add keeps the first artifact for a path, so a
	// template rendered inside a file set's directory replaces that file.
	// Their files are each host's own (templateArtifacts); their paths
	// are taken here.
	for _, t := range hp.Templates {
		if creds && t.Sensitive {
			seen[layout.CredFileRel(t.Destination)] = true
			seen[t.Destination] = true // nor a file set's copy in its place
			d.PlainSecrets = append(d.PlainSecrets, t.Destination)
			continue
		}
		seen[t.Destination] = true
	}
	for _, fset := range hp.FileSets {
		arts, err := once(local, walkKey{fset}, func() ([]plan.Artifact, error) { return fileSetArtifacts(fset, local) })
		if err != nil {
			return d, err
		}
		for _, a := range arts {
			add(a)
		}
	}
	for _, t := range hp.Tasks {
		if err := addUnit(&t.Unit, []string{unit.TaskUnitName(t.Name)}, unit.TaskUnitName(t.Name), true); err != nil {
			return d, err
		}
	}
	for _, s := range hp.Services {
		names := make([]string, len(s.Instances))
		for i, in := range s.Instances {
			names[i] = unit.InstanceName(s.Name, in.Name)
		}
		if err := addUnit(&s.Unit, names, unit.TemplateName(s.Name), false); err != nil {
			return d, err
		}
	}
	if err := addProbes(hp, local, add); err != nil {
		return d, err
	}
	files, err := local.render(app, hp, creds)
	if err != nil {
		return d, fmt.Errorf("render units: %w", err)
	}
	for _, f := range files {
		d.UnitFiles = append(d.UnitFiles, plan.UnitFile{Name: f.Name, Content: f.Content})
		// The release keeps the unit text it was rendered with: a release
		// directory alone describes how to run it again (rollback), and a
		// unit change is a change of release like any other file.
		add(plan.Artifact{Rel: plan.UnitsDir + f.Name, SHA256: f.sha256,
			Size: int64(len(f.Content)), Mode: 0o644, Content: f.Content})
	}
	slices.SortFunc(d.Artifacts, func(a, b plan.Artifact) int { return strings.Compare(a.Rel, b.Rel) })
	return d, nil
}

// credentialArtifact is c as a release file the host encrypts itself; its
// SHA256 is keyed with the host's key once that is read
// (plan.KeyCredentials).
func credentialArtifact(c unit.Credential) plan.Artifact {
	return plan.Artifact{Rel: c.Rel, Mode: 0o600, Content: c.Content, Secret: true, Credential: c.Name}
}

// credRunSHA is the SHA-256 of the credential wrapper.
var credRunSHA = func() string {
	sum := sha256.Sum256(unit.CredRun)
	return hex.EncodeToString(sum[:])
}()

// addProbes adds what the units that wait for their own health check run
// as ExecStartPost=: each such service's check file and, once per host,
// the probe for every architecture (the unit picks its own through %a).
// The probe is not in any unit's Uses: a new probe, or a check file that
// changed without the service, re-pins instances to the new release
// without restarting them, and their next start runs it.
func addProbes(hp config.HostPlacement, local *LocalFiles, add func(plan.Artifact)) error {
	waits := false
	for _, s := range hp.Services {
		if !s.WaitReady {
			continue
		}
		waits = true
		spec, err := once(local, specKey{s}, func() (plan.Artifact, error) {
			b, err := unit.ProbeSpec(s)
			if err != nil {
				return plan.Artifact{}, fmt.Errorf("%s: %w", s.Name, err)
			}
			sum := sha256.Sum256(b)
			return plan.Artifact{Rel: probe.SpecRel(s.Name), SHA256: hex.EncodeToString(sum[:]),
				Size: int64(len(b)), Mode: 0o644, Content: b}, nil
		})
		if err != nil {
			return err
		}
		add(spec)
	}
	if !waits {
		return nil
	}
	bins, err := probe.Binaries()
	if err != nil {
		return fmt.Errorf("readiness probe: %w", err)
	}
	for _, b := range bins {
		add(plan.Artifact{Rel: b.Rel, SHA256: b.SHA256, Size: b.Size, Mode: 0o755, Builtin: b.Content})
	}
	return nil
}

// binaryArtifact is u's binary as a release file: a local file hashed
// once per run, or an artifact the host fetches, known by the SHA-256 the
// playbook gives (its size is unknown: the controller never has it).
func binaryArtifact(u *config.Unit, local *LocalFiles) (plan.Artifact, error) {
	if r := u.Remote; r != nil {
		return plan.Artifact{Rel: layout.BinRel(r.Name), SHA256: r.SHA256,
			Fetch: &plan.Fetch{URL: r.URL, Header: r.Header}}, nil
	}
	return local.Artifact(u.Binary, layout.BinRel(u.Binary))
}

// templateArtifact is a template's text rendered for one host.
func templateArtifact(t *config.Template) plan.Artifact {
	content := t.Content
	if content == nil {
		content = []byte{} // an empty file, never "read Local"
	}
	sum := sha256.Sum256(content)
	return plan.Artifact{Rel: t.Destination, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(content)),
		Mode: t.Mode, Content: content, Secret: t.Sensitive, AppOwned: !t.Sensitive}
}

// fileSetArtifacts lists a file set's files as release paths under its name.
func fileSetArtifacts(fset *config.FileSet, localFiles *LocalFiles) ([]plan.Artifact, error) {
	if !fset.IsDir {
		a, err := localFiles.Artifact(fset.Source, fset.Name)
		return []plan.Artifact{a}, err
	}
	// The files validate walked (config.WalkFileSet): links to files inside
	// the directory deploy the file's content, nothing is skipped.
	arts := make([]plan.Artifact, 0, len(fset.Files))
	for _, f := range fset.Files {
		a, err := localFiles.Artifact(f.Local, path.Join(fset.Name, f.Rel))
		if err != nil {
			return nil, fmt.Errorf("files %q: %w", fset.Name, err)
		}
		arts = append(arts, a)
	}
	return arts, nil
}
