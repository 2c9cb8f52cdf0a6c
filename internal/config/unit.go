package config

import (
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// managedKeys are [Service] settings the tool writes itself; setting them
// in systemd = {} would produce a unit with two conflicting values.
var managedKeys = map[string]string{
	"ExecStart":        "binary and args",
	"User":             "app.user",
	"WorkingDirectory": "app.root",
	"Environment":      "environment",
	"EnvironmentFile":  "secret_environment",
	"LimitNOFILE":      "limit_nofile",
	// Credential delivery writes it (secret_environment, sensitive
	// templates); one in systemd = {} would replace them all.
	"LoadCredentialEncrypted": "secret_environment and sensitive templates",
}

type taskBlock struct {
	Name                   string            `hcl:"name,label"`
	NameRange              hcl.Range         `hcl:"name,label_range"`
	Binary                 cty.Value         `hcl:"binary"`
	BinaryRange            hcl.Range         `hcl:"binary,attr_range"`
	Args                   []string          `hcl:"args,optional"`
	ArgsRange              hcl.Range         `hcl:"args,attr_range"`
	Hosts                  []string          `hcl:"hosts"`
	HostsRange             hcl.Range         `hcl:"hosts,attr_range"`
	DependsOn              []string          `hcl:"depends_on,optional"`
	DependsOnRange         hcl.Range         `hcl:"depends_on,attr_range"`
	Timeout                string            `hcl:"timeout,optional"`
	TimeoutRange           hcl.Range         `hcl:"timeout,attr_range"`
	Environment            map[string]string `hcl:"environment,optional"`
	EnvironmentRange       hcl.Range         `hcl:"environment,attr_range"`
	SecretEnvironment      map[string]string `hcl:"secret_environment,optional"`
	SecretEnvironmentRange hcl.Range         `hcl:"secret_environment,attr_range"`
	Files                  []string          `hcl:"files,optional"`
	FilesRange             hcl.Range         `hcl:"files,attr_range"`
	DefRange               hcl.Range         `hcl:",def_range"`
}

type serviceBlock struct {
	Name                   string            `hcl:"name,label"`
	NameRange              hcl.Range         `hcl:"name,label_range"`
	Binary                 cty.Value         `hcl:"binary"`
	BinaryRange            hcl.Range         `hcl:"binary,attr_range"`
	Args                   []string          `hcl:"args,optional"`
	ArgsRange              hcl.Range         `hcl:"args,attr_range"`
	Hosts                  []string          `hcl:"hosts"`
	HostsRange             hcl.Range         `hcl:"hosts,attr_range"`
	Instances              hcl.Expression    `hcl:"instances,optional"`
	InstancesRange         hcl.Range         `hcl:"instances,attr_range"`
	DependsOn              []string          `hcl:"depends_on,optional"`
	DependsOnRange         hcl.Range         `hcl:"depends_on,attr_range"`
	Environment            map[string]string `hcl:"environment,optional"`
	EnvironmentRange       hcl.Range         `hcl:"environment,attr_range"`
	SecretEnvironment      map[string]string `hcl:"secret_environment,optional"`
	SecretEnvironmentRange hcl.Range         `hcl:"secret_environment,attr_range"`
	Files                  []string          `hcl:"files,optional"`
	FilesRange             hcl.Range         `hcl:"files,attr_range"`
	LimitNOFILE            int               `hcl:"limit_nofile,optional"`
	LimitNOFILERange       hcl.Range         `hcl:"limit_nofile,attr_range"`
	Systemd                map[string]string `hcl:"systemd,optional"`
	SystemdRange           hcl.Range         `hcl:"systemd,attr_range"`
	StopSignal             string            `hcl:"stop_signal,optional"`
	StopSignalRange        hcl.Range         `hcl:"stop_signal,attr_range"`
	StopTimeout            string            `hcl:"stop_timeout,optional"`
	StopTimeoutRange       hcl.Range         `hcl:"stop_timeout,attr_range"`
	Health                 *healthBlock      `hcl:"health,block"`
	Rollout                *rolloutBlock     `hcl:"rollout,block"`
	DefRange               hcl.Range         `hcl:",def_range"`
}

// unitSrc holds the source ranges of a task or service.
type unitSrc struct {
	kind                                                          string // "task" or "service"
	def, name, binary, args, hosts, dependsOn, env, secEnv, files hcl.Range
	// port is the health attribute (tcp or http) that yields the
	// instance ports; health is the health block. Services only.
	port, health hcl.Range
}

func (l *loader) decodeTask(file string, b *taskBlock) (*Task, unitSrc) {
	src := unitSrc{kind: "task", def: b.DefRange, name: b.NameRange, binary: b.BinaryRange, args: b.ArgsRange,
		hosts: b.HostsRange, dependsOn: b.DependsOnRange, env: b.EnvironmentRange,
		secEnv: b.SecretEnvironmentRange, files: b.FilesRange}
	t := &Task{Unit: Unit{Name: b.Name, Args: b.Args, Hosts: b.Hosts,
		DependsOn: b.DependsOn, Environment: b.Environment, SecretEnvironment: b.SecretEnvironment,
		Files: b.Files, FilesSet: set(b.FilesRange), DeclRange: b.DefRange}, Timeout: defaultTaskTimeout}
	l.checkUnit(file, &t.Unit, b.Binary, src)
	if l.has(b.TimeoutRange) {
		if d, ok := l.duration(b.TimeoutRange, b.DefRange, "timeout", b.Timeout); ok {
			t.Timeout = d
		}
	}
	return t, src
}

func (l *loader) decodeService(file string, b *serviceBlock, ctx *hcl.EvalContext) (*Service, unitSrc) {
	src := unitSrc{kind: "service", def: b.DefRange, name: b.NameRange, binary: b.BinaryRange, args: b.ArgsRange,
		hosts: b.HostsRange, dependsOn: b.DependsOnRange, env: b.EnvironmentRange,
		secEnv: b.SecretEnvironmentRange, files: b.FilesRange}
	s := &Service{Unit: Unit{Name: b.Name, Args: b.Args, Hosts: b.Hosts,
		DependsOn: b.DependsOn, Environment: b.Environment, SecretEnvironment: b.SecretEnvironment,
		Files: b.Files, FilesSet: set(b.FilesRange), DeclRange: b.DefRange}, LimitNOFILE: defaultLimitNOFILE}
	l.checkUnit(file, &s.Unit, b.Binary, src)
	if l.has(b.LimitNOFILERange) {
		s.LimitNOFILE = b.LimitNOFILE
		if b.LimitNOFILE < 1 {
			l.errorf(b.LimitNOFILERange, b.DefRange, "Invalid limit_nofile",
				"limit_nofile = %d must be a positive number of open files.", b.LimitNOFILE)
		}
	}
	for _, k := range mapKeys(b.Systemd) {
		v := b.Systemd[k]
		switch {
		case !systemdKeyRE.MatchString(k):
			l.errorf(b.SystemdRange, b.DefRange, "Invalid systemd key",
				"%q is not a systemd setting name (letters and digits, starting with a letter).", k)
		case managedKeys[k] != "":
			l.errorf(b.SystemdRange, b.DefRange, "Managed systemd key",
				"%s is written by the tool from %s; set that instead.", k, managedKeys[k])
		case !safeValue(v):
			l.errorf(b.SystemdRange, b.DefRange, "Invalid systemd value",
				"The value of %s contains a newline or NUL character.", k)
		case strings.HasSuffix(v, `\`):
			l.errorf(b.SystemdRange, b.DefRange, "Invalid systemd value",
				"The value of %s ends in a backslash, which continues the line in a unit file and would swallow the next setting.", k)
		case !utf8.ValidString(v) || hasControl(v):
			l.errorf(b.SystemdRange, b.DefRange, "Invalid systemd value",
				"The value of %s is not valid UTF-8 or contains a control character other than tab.", k)
		}
		s.Systemd = append(s.Systemd, KeyValue{Key: k, Value: v})
	}
	l.decodeStop(b, s)
	s.Instances, src.port, src.health = l.decodeInstances(b, ctx)
	s.WaitReady = l.waitReady(b, s.Instances)
	return s, src
}

// checkUnit validates what tasks and services share and resolves the
// binary: a local path, or artifact(...) for one the hosts fetch.
func (l *loader) checkUnit(file string, u *Unit, binary cty.Value, src unitSrc) {
	if l.checkName(src.name, src.def, src.kind, u.Name) {
		l.checkReservedUnitName(src.name, src.def, src.kind, u.Name)
	}
	if l.has(src.binary) {
		l.decodeBinary(file, u, binary, src)
	}
	for _, a := range u.Args {
		switch {
		case !safeValue(a):
			l.errorf(src.args, src.def, "Invalid argument",
				"Argument %q contains a newline or NUL character, which cannot be passed through ExecStart=.", a)
		case !utf8.ValidString(a):
			l.errorf(src.args, src.def, "Invalid argument",
				"Argument %q is not valid UTF-8, which systemd refuses in ExecStart=.", a)
		}
	}
	l.checkEnv(src.env, src.def, "environment", u.Environment)
	l.checkEnv(src.secEnv, src.def, "secret_environment", u.SecretEnvironment)
	for _, k := range mapKeys(u.SecretEnvironment) {
		if _, dup := u.Environment[k]; dup {
			l.errorf(src.secEnv, src.def, "Duplicate environment variable",
				"%s is set in both environment and secret_environment.", k)
		}
	}
}

// decodeBinary sets u.Binary (a local path, resolved and checked) or
// u.Remote (artifact(), checked by the function where it is called) from
// the binary attribute's value. An unknown value (it uses host, in the
// declaration pass) is left for the per-host pass.
func (l *loader) decodeBinary(file string, u *Unit, v cty.Value, src unitSrc) {
	if !v.IsWhollyKnown() {
		return
	}
	if rb, ok := remoteBinary(v); ok {
		u.Remote = rb
		return
	}
	if !v.IsNull() && v.Type().IsPrimitiveType() {
		v, _ = convert.Convert(v, cty.String) // numbers and bools, as elsewhere
	}
	if v.IsNull() || v.Type() != cty.String {
		l.errorf(src.binary, src.def, "Invalid binary",
			"binary must be a local path (a string) or artifact(URL, SHA256) for a binary the hosts fetch themselves.")
		return
	}
	raw := v.AsString()
	u.Binary = l.absPath(file, raw)
	fi, err := os.Stat(u.Binary)
	switch {
	case err != nil:
		l.errorf(src.binary, src.def, "Binary not found",
			"binary %q (%s) does not exist or cannot be read.", raw, u.Binary)
	case !fi.Mode().IsRegular():
		l.errorf(src.binary, src.def, "Invalid binary", "binary %q is not a regular file.", raw)
	default:
		l.checkName(src.binary, src.def, "binary file", filepath.Base(u.Binary))
	}
}

// hasControl reports a control character other than tab (C0 or DEL).
func hasControl(s string) bool {
	for _, c := range []byte(s) {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return true
		}
	}
	return false
}

func (l *loader) checkEnv(r, ctx hcl.Range, attr string, env map[string]string) {
	for _, k := range mapKeys(env) {
		switch {
		case !envNameRE.MatchString(k):
			l.errorf(r, ctx, "Invalid environment variable name",
				"%s key %q must be letters, digits and \"_\", not starting with a digit.", attr, k)
		case !safeValue(env[k]):
			l.errorf(r, ctx, "Invalid environment value",
				"The %s value of %s contains a newline or NUL character.", attr, k)
		case !utf8.ValidString(env[k]) || hasControl(env[k]):
			// systemd drops such an assignment without a word.
			l.errorf(r, ctx, "Invalid environment value",
				"The %s value of %s is not valid UTF-8 or contains a control character other than tab, which systemd drops.", attr, k)
		}
	}
}
