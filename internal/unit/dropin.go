package unit

import (
	"bytes"
	"fmt"
	"path"
	"strings"

	sdunit "github.com/coreos/go-systemd/v22/unit"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/layout"
	"github.com/openimsdk/openim-deploy/internal/probe"
)

// DropIn renders the drop-in that pins one instance (or task) of u to
// release id: its working directory, its ExecStart= and its secret
// environment file all name releases/<id>/ instead of current, so a crashed
// instance comes back on the release it was running, never on a newer one
// it was not moved to yet. Empty assignments reset the template's values
// first (ExecStart= and EnvironmentFile= are lists).
func DropIn(app config.App, u *config.Unit, instance bool, id string) ([]byte, error) {
	return DropInCredentials(app, u, instance, id, nil)
}

// DropInCredentials is DropIn under credential delivery when creds is not
// nil (the unit's Credentials, maybe none): its LoadCredentialEncrypted=
// lines name the encrypted files of release id instead of current's.
func DropInCredentials(app config.App, u *config.Unit, instance bool, id string, creds []Credential) ([]byte, error) {
	if !layout.ValidReleaseID(id) {
		return nil, fmt.Errorf("release id %q is not safe in a unit file", id)
	}
	r := renderer{app: app, lay: layout.Layout{Root: app.Root}}
	if err := checkApp(app); err != nil {
		return nil, err
	}
	base := u.BinaryName()
	if !unitWord.MatchString(base) {
		return nil, fmt.Errorf("binary name %q must match %s", base, unitWord)
	}
	var credsOf map[*config.Unit][]Credential
	if creds != nil {
		credsOf = map[*config.Unit][]Credential{u: creds}
	}
	exec, loads, err := execAndCreds(r.lay.Release(id), u, instance, credsOf)
	if err != nil {
		return nil, err
	}
	opts := []*sdunit.UnitOption{
		opt(secService, "WorkingDirectory", r.lay.Release(id)),
		opt(secService, "ExecStart", ""),
		opt(secService, "ExecStart", exec),
	}
	if u.WaitReady {
		opts = append(opts,
			opt(secService, "ExecStartPost", ""),
			opt(secService, "ExecStartPost", probeLine(path.Join(r.lay.Release(id), probe.Rel("%a")), u.Name)))
	}
	if len(loads) > 0 {
		opts = append(opts, opt(secService, "LoadCredentialEncrypted", ""))
		opts = append(opts, loads...)
	}
	if len(u.SecretEnvironment) > 0 && creds == nil {
		opts = append(opts,
			opt(secService, "EnvironmentFile", ""),
			opt(secService, "EnvironmentFile", r.lay.ReleaseEnvFile(id, u.Name)))
	}
	return r.serialize(opts), nil
}

// DropInFromTemplate derives the drop-in pinning an instance to release id
// from the unit text kept in that release (units/<name>): its
// WorkingDirectory=, ExecStart=, LoadCredentialEncrypted= and EnvironmentFile= with <root>/current
// replaced by <root>/releases/<id>. For the same release it is byte for
// byte what DropIn renders, so a rollback leaves nothing for the next plan
// to re-pin.
func DropInFromTemplate(app config.App, template []byte, id string) ([]byte, error) {
	if !layout.ValidReleaseID(id) {
		return nil, fmt.Errorf("release id %q is not safe in a unit file", id)
	}
	opts, err := sdunit.DeserializeOptions(bytes.NewReader(template))
	if err != nil {
		return nil, fmt.Errorf("parse unit: %w", err)
	}
	lay := layout.Layout{Root: app.Root}
	cur, rel := lay.Current(), lay.Release(id)
	repin := func(v string) string {
		if v == cur {
			return rel
		}
		if rest, ok := strings.CutPrefix(v, cur+"/"); ok {
			return rel + "/" + rest
		}
		return v
	}
	var wd, exec, post, env string
	var loads []*sdunit.UnitOption
	for _, o := range opts {
		if o.Section != secService {
			continue
		}
		switch o.Name {
		case "WorkingDirectory":
			wd = repin(o.Value)
		case "ExecStart":
			exec = repin(o.Value)
		case "ExecStartPost":
			post = repin(o.Value)
		case "EnvironmentFile":
			env = repin(o.Value)
		case "LoadCredentialEncrypted":
			name, p, _ := strings.Cut(o.Value, ":")
			loads = append(loads, opt(secService, "LoadCredentialEncrypted", name+":"+repin(p)))
		}
	}
	if wd == "" || exec == "" {
		return nil, fmt.Errorf("unit has no WorkingDirectory= or ExecStart= to pin")
	}
	out := []*sdunit.UnitOption{
		opt(secService, "WorkingDirectory", wd),
		opt(secService, "ExecStart", ""),
		opt(secService, "ExecStart", exec),
	}
	if post != "" {
		out = append(out, opt(secService, "ExecStartPost", ""), opt(secService, "ExecStartPost", post))
	}
	if len(loads) > 0 {
		out = append(out, opt(secService, "LoadCredentialEncrypted", ""))
		out = append(out, loads...)
	}
	if env != "" {
		out = append(out, opt(secService, "EnvironmentFile", ""), opt(secService, "EnvironmentFile", env))
	}
	r := renderer{app: app}
	return r.serialize(out), nil
}
