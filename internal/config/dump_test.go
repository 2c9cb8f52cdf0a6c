package config

import (
	"fmt"
	"reflect"
	"strings"
)

// dump renders a loaded Config as stable text for golden files. Secret
// values go through Redact, so the goldens also pin redaction.
func dump(c *Config) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	inv := c.Inventory
	p("inventory %s playbook=%q", inv.Filename, inv.Playbook)
	for _, x := range inv.Bastions {
		p("bastion %s %s %s", x.Name, x.Address, dumpSSH(x.SSH))
	}
	for _, h := range inv.Hosts {
		p("host %s %s %s groups=%v via=%q vars=%v", h.Name, h.Address, dumpSSH(h.SSH), h.Groups, h.Via, h.Vars)
	}
	pb := c.Playbook
	if pb == nil {
		return b.String()
	}
	p("playbook %s", pb.Filename)
	p("app %s root=%s user=%s keep_releases=%d", pb.App.Name, pb.App.Root, pb.App.User, pb.App.KeepReleases)
	for _, v := range pb.Variables {
		p("variable %s = %q sensitive=%v", v.Name, c.Redact(v.Value), v.Sensitive)
	}
	for _, s := range pb.Secrets {
		p("secret %s command=%q timeout=%s ran=%v value=%q", s.Name, s.Command, s.Timeout, s.Ran, c.Redact(s.Value))
	}
	for _, fs := range pb.FileSets {
		p("files %s source=%s dir=%v hosts=%v", fs.Name, fs.Source, fs.IsDir, fs.Hosts)
	}
	for _, t := range pb.Tasks {
		p("task %s timeout=%s", t.Name, t.Timeout)
		dumpUnit(p, c, &t.Unit)
	}
	for _, s := range pb.Services {
		p("service %s limit_nofile=%d systemd=%v stop_signal=%q stop_timeout=%s wait_ready=%v",
			s.Name, s.LimitNOFILE, s.Systemd, s.StopSignal, s.StopTimeout, s.WaitReady)
		dumpUnit(p, c, &s.Unit)
		for _, in := range s.Instances {
			h := in.Health
			p("  instance %d %q tcp=%q http=%q exec=%q ports=%v interval=%s timeout=%s retries=%d stable=%s",
				in.Index, in.Name, h.TCP, h.HTTP, h.Exec, h.Ports, h.Interval, h.Timeout, h.Retries, h.Stable)
		}
	}
	for _, h := range pb.Hooks {
		p("hook %s when=%s on=%s services=%v command=%q timeout=%s environment=%v secret_environment=%s",
			h.Name, h.When, h.On, h.Services, h.Command, h.Timeout, h.Environment, c.Redact(fmt.Sprint(h.SecretEnvironment)))
	}
	for _, t := range pb.Templates {
		p("template %s source=%s destination=%s hosts=%v mode=%04o sensitive=%v", t.Name, t.Source, t.Destination, t.Hosts, t.Mode, t.Sensitive)
	}
	for _, hp := range c.Placement() {
		var fs, ts, ss []string
		for _, f := range hp.FileSets {
			fs = append(fs, f.Name)
		}
		for _, t := range hp.Templates {
			fs = append(fs, "template:"+t.Name)
		}
		for _, t := range hp.Tasks {
			ts = append(ts, t.Name+filesOn(&t.Unit, hp))
		}
		for _, s := range hp.Services {
			ss = append(ss, s.Name+filesOn(&s.Unit, hp))
		}
		p("placement %s files=%v tasks=%v services=%v", hp.Host.Name, fs, ts, ss)
		dumpPerHost(p, c, hp)
	}
	p("waves %v", pb.Waves())
	p("secrets %d", len(c.Secrets))
	return b.String()
}

func dumpSSH(s SSH) string {
	return fmt.Sprintf("user=%s port=%d identity=%q known_hosts=%q become=%v connect_timeout=%s",
		s.User, s.Port, s.Identity, s.KnownHosts, s.Become, s.ConnectTimeout)
}

func dumpUnit(p func(string, ...any), c *Config, u *Unit) {
	var secret []string
	for _, k := range mapKeys(u.SecretEnvironment) {
		secret = append(secret, k+"="+c.Redact(u.SecretEnvironment[k]))
	}
	p("  binary=%s args=%q hosts=%v depends_on=%v files=%v(set=%v)", dumpBinary(c, u), u.Args, u.Hosts, u.DependsOn, u.Files, u.FilesSet)
	p("  environment=%v secret_environment=%v", u.Environment, secret)
}

// dumpBinary renders a unit's binary: its path, or the artifact with its
// header redacted.
func dumpBinary(c *Config, u *Unit) string {
	if r := u.Remote; r != nil {
		return fmt.Sprintf("artifact(url=%s sha256=%s name=%s header=%q)", r.URL, r.SHA256, r.Name, c.Redact(r.Header))
	}
	return u.Binary
}

func filesOn(u *Unit, hp HostPlacement) string {
	var names []string
	for _, f := range u.FilesOn(hp) {
		names = append(names, f.Name)
	}
	for _, t := range u.TemplatesOn(hp) {
		names = append(names, t.Name)
	}
	return fmt.Sprintf("%v", names)
}

// dumpPerHost prints what a host's copies say where it differs from the
// declaration (so goldens of host-free playbooks stay short), and every
// rendered template, redacted when sensitive.
func dumpPerHost(p func(string, ...any), c *Config, hp HostPlacement) {
	for _, t := range hp.Templates {
		text := string(t.Content)
		if t.Sensitive {
			text = c.Redact(text)
		}
		p("  template %s -> %s mode=%04o sensitive=%v content=%q", t.Name, t.Destination, t.Mode, t.Sensitive, text)
	}
	unitLine := func(kind string, u, decl *Unit, extra []string) {
		same := reflect.DeepEqual(u.Args, decl.Args) && reflect.DeepEqual(u.Environment, decl.Environment) &&
			reflect.DeepEqual(u.SecretEnvironment, decl.SecretEnvironment) && dumpBinary(c, u) == dumpBinary(c, decl)
		if same && len(extra) == 0 {
			return
		}
		p("  %s %s on %s:", kind, u.Name, hp.Host.Name)
		if !same {
			dumpUnit(p, c, u)
		}
		for _, e := range extra {
			p("%s", e)
		}
	}
	for _, t := range hp.Tasks {
		decl, _ := c.Playbook.UnitByName(t.Name)
		unitLine("task", &t.Unit, decl, nil)
	}
	for _, s := range hp.Services {
		var decl *Service
		for _, d := range c.Playbook.Services {
			if d.Name == s.Name {
				decl = d
			}
		}
		var extra []string
		if !reflect.DeepEqual(s.Systemd, decl.Systemd) {
			extra = append(extra, fmt.Sprintf("    systemd=%v", s.Systemd))
		}
		if !reflect.DeepEqual(s.Instances, decl.Instances) {
			for _, in := range s.Instances {
				h := in.Health
				extra = append(extra, fmt.Sprintf("    instance %d %q tcp=%q http=%q exec=%q ports=%v", in.Index, in.Name, h.TCP, h.HTTP, h.Exec, h.Ports))
			}
		}
		unitLine("service", &s.Unit, &decl.Unit, extra)
	}
}
