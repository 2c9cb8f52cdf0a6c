package unit

import (
	"bytes"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	sdunit "github.com/coreos/go-systemd/v22/unit"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/layout"
	"github.com/openimsdk/openim-deploy/internal/probe"
)

// File is one rendered unit file, installed as layout.UnitPath(Name).
type File struct {
	Name    string // "openim-api@.service"
	Content []byte
}

// Defaults for service units. docs/units.md gives the reasoning at length.
const (
	// RestartSec is the pause before systemd restarts a crashed instance:
	// what OpenIM's own units used, long enough not to hammer etcd/Kafka.
	RestartSec = "5s"
	// TimeoutStopSec leaves OpenIM's 15 s SIGTERM drain room to finish
	// before systemd escalates to SIGKILL (OpenIM's launcher never did).
	TimeoutStopSec = "20s"
	// DefaultLimitNOFILE applies when a Service carries no limit (the
	// loader already fills in the same value): systemd's soft default of
	// 1024 gives "too many open files" under load, and a gateway holds one
	// descriptor per client connection.
	DefaultLimitNOFILE = 65536
)

// Header is the first line of every file the tool installs for app: it
// tells the operator who opens the file that it is generated, and it is how
// the tool recognises its own files (for removal of what left the playbook,
// and uninstall) and never touches anyone else's.
func Header(app string) string {
	return "# Managed by openim-deploy (app=" + app + "): changes here are overwritten by the next apply.\n"
}

const (
	secUnit    = "Unit"
	secService = "Service"
	secInstall = "Install"
)

// Render returns every unit file apply installs on hp.Host, sorted by name:
// the app target, one template unit per service and one unit per task. It
// fails on values that cannot be written safely into a unit (names outside
// the unit-name alphabet, a relative root, NUL bytes, invalid environment
// names); errors never quote environment values, which may be secret.
func Render(app config.App, hp config.HostPlacement) ([]File, error) {
	return render(app, hp, false)
}

// RenderCredentials is Render under credential delivery (secret_delivery):
// a unit with secret environment values or sensitive templates loads them
// with LoadCredentialEncrypted= from the release's .creds/ (Credentials),
// and one with secret environment values runs its binary through the
// wrapper layout.CredRunRel, which exports them; no EnvironmentFile=.
func RenderCredentials(app config.App, hp config.HostPlacement) ([]File, error) {
	return render(app, hp, true)
}

func render(app config.App, hp config.HostPlacement, creds bool) ([]File, error) {
	if err := checkApp(app); err != nil {
		return nil, err
	}
	r := renderer{app: app, lay: layout.Layout{Root: app.Root}, deps: localDeps(hp)}
	if creds {
		r.creds = map[*config.Unit][]Credential{}
		for _, t := range hp.Tasks {
			c, err := Credentials(&t.Unit, hp)
			if err != nil {
				return nil, fmt.Errorf("render task %s: %w", t.Name, err)
			}
			r.creds[&t.Unit] = c
		}
		for _, s := range hp.Services {
			c, err := Credentials(&s.Unit, hp)
			if err != nil {
				return nil, fmt.Errorf("render service %s: %w", s.Name, err)
			}
			r.creds[&s.Unit] = c
		}
	}
	files := []File{{Name: TargetName(app.Name), Content: r.serialize(r.target(hp))}}
	for _, t := range hp.Tasks {
		opts, err := r.task(t)
		if err != nil {
			return nil, fmt.Errorf("render task %s: %w", t.Name, err)
		}
		files = append(files, File{Name: TaskUnitName(t.Name), Content: r.serialize(opts)})
	}
	for _, s := range hp.Services {
		opts, err := r.service(s)
		if err != nil {
			return nil, fmt.Errorf("render service %s: %w", s.Name, err)
		}
		files = append(files, File{Name: TemplateName(s.Name), Content: r.serialize(opts)})
	}
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	return files, nil
}

// renderer holds what every unit of one host shares.
type renderer struct {
	app  config.App
	lay  layout.Layout
	deps map[string][]string // task or service name -> its units on this host
	// creds, under credential delivery, are the credentials each unit
	// loads; nil under file delivery.
	creds map[*config.Unit][]Credential
}

// localDeps maps every task and service placed on the host to its units, so
// a depends_on edge can be resolved to Requires=/After= on this host only.
// Edges to units on other hosts are apply's job: systemd cannot order
// across machines.
func localDeps(hp config.HostPlacement) map[string][]string {
	m := make(map[string][]string, len(hp.Tasks)+len(hp.Services))
	for _, t := range hp.Tasks {
		m[t.Name] = []string{TaskUnitName(t.Name)}
	}
	for _, s := range hp.Services {
		m[s.Name] = serviceInstances(s)
	}
	return m
}

// target renders <app>.target: it wants every unit on the host, so
// "systemctl start openim.target" starts them all and, because each unit is
// PartOf= it, "systemctl stop/restart openim.target" reaches them all too.
func (r renderer) target(hp config.HostPlacement) []*sdunit.UnitOption {
	opts := []*sdunit.UnitOption{
		opt(secUnit, "Description", escapePercent(r.app.Name+" (all units managed by openim-deploy)")),
	}
	for _, p := range placedUnits(hp) {
		opts = append(opts, opt(secUnit, "Wants", strings.Join(p.units, " ")))
	}
	return append(opts, opt(secInstall, "WantedBy", "multi-user.target"))
}

// service renders the template unit of s. Instances differ only in %i.
func (r renderer) service(s *config.Service) ([]*sdunit.UnitOption, error) {
	for _, in := range s.Instances {
		if !unitWord.MatchString(in.Name) {
			return nil, fmt.Errorf("instance name %q is not safe in a unit name", in.Name)
		}
	}
	opts := r.unitSection(&s.Unit, fmt.Sprintf("%s instance %%i (%s)", s.Name, r.app.Name))
	// No start rate limit: with Restart=always a service whose dependency is
	// down for minutes must keep retrying, not give up after 5 tries in 10 s.
	opts = append(opts, opt(secUnit, "StartLimitIntervalSec", "0"))
	// Type=exec: "systemctl start" fails when the binary cannot be executed,
	// instead of reporting success for a process that never ran.
	opts = append(opts, opt(secService, "Type", "exec"))
	body, err := r.execBody(&s.Unit, true)
	if err != nil {
		return nil, err
	}
	opts = append(opts, body...)
	if s.WaitReady {
		opts = append(opts,
			opt(secService, "ExecStartPost", probeLine(path.Join(r.lay.Current(), probe.Rel("%a")), s.Name)),
			opt(secService, "TimeoutStartSec", formatDuration(StartTimeout(s))))
	}
	nofile := s.LimitNOFILE
	if nofile <= 0 {
		nofile = DefaultLimitNOFILE
	}
	stop := TimeoutStopSec
	if s.StopTimeout > 0 {
		stop = formatDuration(s.StopTimeout)
	}
	opts = append(opts,
		opt(secService, "Restart", "always"),
		opt(secService, "RestartSec", RestartSec),
		opt(secService, "TimeoutStopSec", stop),
	)
	if s.StopSignal != "" {
		opts = append(opts, opt(secService, "KillSignal", s.StopSignal))
	}
	opts = append(opts, opt(secService, "LimitNOFILE", strconv.Itoa(nofile)))
	opts, err = passThrough(opts, s.Systemd)
	if err != nil {
		return nil, err
	}
	return append(opts, opt(secInstall, "WantedBy", TargetName(r.app.Name))), nil
}

// probeLine is the ExecStartPost= command that waits for an instance's
// health check: the probe built for the host's architecture (%a expands to
// systemd's name for it, "x86-64"), the service's check file relative to
// the working directory, so a drop-in that pins WorkingDirectory= to a
// release also pins the check, and the instance name.
func probeLine(bin, service string) string {
	return bin + " " + probe.SpecRel(service) + " %i"
}

// StartTimeout is the TimeoutStartSec= of a service whose unit waits for
// its health check: the tool's own gate budget for its slowest instance
// (retries polls an interval apart, plus one probe timeout), rounded up to
// a whole second. A start that is not healthy by then fails, and
// Restart=always tries again RestartSec later.
func StartTimeout(s *config.Service) time.Duration {
	var d time.Duration
	for _, in := range s.Instances {
		h := in.Health
		d = max(d, time.Duration(h.Retries)*h.Interval+h.Timeout)
	}
	return (d + time.Second - 1).Truncate(time.Second)
}

// task renders the oneshot unit of t. RemainAfterExit keeps it active after
// exit 0, so dependents that Require= it see a satisfied gate, and a second
// "systemctl start" does not run it again; apply re-runs it with restart.
func (r renderer) task(t *config.Task) ([]*sdunit.UnitOption, error) {
	opts := r.unitSection(&t.Unit, fmt.Sprintf("%s task (%s)", t.Name, r.app.Name))
	opts = append(opts,
		opt(secService, "Type", "oneshot"),
		opt(secService, "RemainAfterExit", "yes"),
	)
	body, err := r.execBody(&t.Unit, false)
	if err != nil {
		return nil, err
	}
	opts = append(opts, body...)
	// Without a timeout a oneshot may run forever (systemd disables the
	// start timeout for Type=oneshot); the playbook's timeout bounds the gate.
	if t.Timeout > 0 {
		opts = append(opts, opt(secService, "TimeoutStartSec", formatDuration(t.Timeout)))
	}
	return append(opts, opt(secInstall, "WantedBy", TargetName(r.app.Name))), nil
}

// unitSection renders the [Unit] keys services and tasks share.
func (r renderer) unitSection(u *config.Unit, desc string) []*sdunit.UnitOption {
	opts := []*sdunit.UnitOption{
		opt(secUnit, "Description", desc),
		opt(secUnit, "PartOf", TargetName(r.app.Name)),
		// OpenIM reaches etcd, Kafka, Redis and MongoDB on other hosts: at
		// boot, wait for the network to be configured before the first try.
		opt(secUnit, "Wants", "network-online.target"),
		opt(secUnit, "After", "network-online.target"),
	}
	for _, d := range u.DependsOn {
		units, ok := r.deps[d]
		if !ok || d == u.Name {
			continue // placed on other hosts only: apply orders it
		}
		// Wants=, not Requires=: with Requires= systemd restarts every
		// dependent whenever a dependency restarts, ungated and unplanned.
		// The hard ordering is the tool's own, health-gated waves.
		v := strings.Join(units, " ")
		opts = append(opts, opt(secUnit, "Wants", v), opt(secUnit, "After", v))
	}
	return opts
}

// execBody renders the [Service] keys that say how the process runs.
func (r renderer) execBody(u *config.Unit, instance bool) ([]*sdunit.UnitOption, error) {
	if !unitWord.MatchString(u.Name) {
		return nil, fmt.Errorf("name %q is not safe in a unit name", u.Name)
	}
	base := u.BinaryName()
	if !unitWord.MatchString(base) {
		return nil, fmt.Errorf("binary name %q must match %s", base, unitWord)
	}
	if len(u.SecretEnvironment) > 0 {
		if err := checkSecrets(u.SecretEnvironment); err != nil {
			return nil, err
		}
	}
	exec, creds, err := execAndCreds(r.lay.Current(), u, instance, r.creds)
	if err != nil {
		return nil, err
	}
	var opts []*sdunit.UnitOption
	if r.app.User != "" {
		opts = append(opts, opt(secService, "User", r.app.User))
	}
	opts = append(opts,
		opt(secService, "WorkingDirectory", r.lay.Current()),
		opt(secService, "ExecStart", exec),
	)
	opts = append(opts, creds...)
	for _, k := range sortedKeys(u.Environment) {
		v, err := envAssignment(k, u.Environment[k])
		if err != nil {
			return nil, err
		}
		opts = append(opts, opt(secService, "Environment", v))
	}
	if len(u.SecretEnvironment) > 0 && r.creds == nil {
		opts = append(opts, opt(secService, "EnvironmentFile", r.lay.CurrentEnvFile(u.Name)))
	}
	return opts, nil
}

// execAndCreds renders the ExecStart= of u running from release directory
// dir (current, or a release a drop-in pins to) and, under credential
// delivery (creds not nil), its LoadCredentialEncrypted= lines: a unit
// with secret environment values then runs its binary through the
// wrapper, which exports them.
func execAndCreds(dir string, u *config.Unit, instance bool, creds map[*config.Unit][]Credential) (string, []*sdunit.UnitOption, error) {
	bin := path.Join(dir, layout.BinRel(u.BinaryName()))
	if creds == nil {
		exec, err := execLine(bin, u.Args, instance)
		return exec, nil, err
	}
	var opts []*sdunit.UnitOption
	wrap := false
	for _, c := range creds[u] {
		p := path.Join(dir, c.Rel)
		if !safePath.MatchString(p) {
			return "", nil, fmt.Errorf("credential %s: path %q must be made of letters, digits and _./@+-", c.Name, p)
		}
		opts = append(opts, opt(secService, "LoadCredentialEncrypted", c.Name+":"+p))
		wrap = wrap || c.Env
	}
	if !wrap {
		exec, err := execLine(bin, u.Args, instance)
		return exec, opts, err
	}
	// The wrapper finds the binary next to itself, in its own release: a
	// drop-in that repins the wrapper's path repins the binary too.
	exec, err := execLine(path.Join(dir, layout.CredRunRel), append([]string{layout.BinRel(u.BinaryName())}, u.Args...), instance)
	return exec, opts, err
}

// passThrough applies a service's systemd = {...} keys. A key the renderer
// already sets in the same section is replaced where it stands (all its
// lines, e.g. every Environment=), so the user's value wins instead of
// systemd seeing two conflicting lines; any other key is added. Keys go to
// [Service], except the start-limit keys, which systemd reads from [Unit].
func passThrough(opts []*sdunit.UnitOption, kvs []config.KeyValue) ([]*sdunit.UnitOption, error) {
	for _, kv := range kvs {
		if err := checkPassThrough(kv.Key, kv.Value); err != nil {
			return nil, err
		}
		sec := secService
		if strings.HasPrefix(kv.Key, "StartLimit") {
			sec = secUnit
		}
		same := func(o *sdunit.UnitOption) bool { return o.Section == sec && o.Name == kv.Key }
		at := slices.IndexFunc(opts, same)
		if at < 0 {
			opts = append(opts, opt(sec, kv.Key, kv.Value))
			continue
		}
		opts[at] = opt(sec, kv.Key, kv.Value)
		rest := slices.DeleteFunc(opts[at+1:], same)
		opts = opts[:at+1+len(rest)]
	}
	return opts, nil
}

// checkApp validates the app values that reach paths and unit names.
func checkApp(app config.App) error {
	if !unitWord.MatchString(app.Name) {
		return fmt.Errorf("app name %q is not safe in a unit name", app.Name)
	}
	if !safePath.MatchString(app.Root) || path.Clean(app.Root) != app.Root {
		return fmt.Errorf("app root %q must be a clean absolute path of letters, digits and _./@+-", app.Root)
	}
	if app.User != "" && !userName.MatchString(app.User) {
		return fmt.Errorf("app user %q is not a valid user name", app.User)
	}
	return nil
}

// checkSecrets validates secret names and values without ever quoting a value.
func checkSecrets(env map[string]string) error {
	for _, k := range sortedKeys(env) {
		if !envName.MatchString(k) {
			return fmt.Errorf("secret environment name %q is not a valid variable name", k)
		}
		if err := checkText(env[k], true); err != nil {
			return fmt.Errorf("secret environment %s: value %w", k, err)
		}
	}
	return nil
}

func opt(section, name, value string) *sdunit.UnitOption {
	return sdunit.NewUnitOption(section, name, value)
}

// serialize writes opts with the generated-file header.
func (r renderer) serialize(opts []*sdunit.UnitOption) []byte {
	var b bytes.Buffer
	b.WriteString(Header(r.app.Name))
	_, _ = io.Copy(&b, sdunit.Serialize(opts)) // reading a bytes.Buffer cannot fail
	return b.Bytes()
}
