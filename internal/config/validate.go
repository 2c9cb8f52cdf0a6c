package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/openimsdk/openim-deploy/internal/selector"
)

// checker runs the cross-checks that need both inventory and playbook.
type checker struct {
	*loader
	cfg   *Config
	src   map[*Unit]unitSrc
	units map[string]*Unit // tasks and services by name; first wins
	known []string         // valid selectors: "all", host and group names
}

// validate runs every check that relates blocks to each other.
func (l *loader) validate(cfg *Config, src *playbookSrc) {
	inv, pb := cfg.Inventory, cfg.Playbook
	c := &checker{loader: l, cfg: cfg, src: map[*Unit]unitSrc{}, units: map[string]*Unit{}}
	for u, s := range l.hostSrc {
		c.src[u] = s
	}
	for i, t := range pb.Tasks {
		c.src[&t.Unit] = src.tasks[i]
	}
	for i, s := range pb.Services {
		c.src[&s.Unit] = src.services[i]
	}
	seen := map[string]bool{"all": true}
	c.known = []string{"all"}
	for _, h := range inv.Hosts {
		for _, n := range append([]string{h.Name}, h.Groups...) {
			if !seen[n] {
				seen[n] = true
				c.known = append(c.known, n)
			}
		}
	}
	c.uniqueNames(src)
	for i, fs := range pb.FileSets {
		c.selectors(src.fileSets[i].HostsRange, fs.DeclRange, fs.Hosts)
	}
	for i, t := range pb.Templates {
		c.selectors(src.templates[i].hosts, t.DeclRange, t.Hosts)
	}
	c.destinations(src)
	for _, u := range pb.units() {
		c.selectors(c.src[u].hosts, u.DeclRange, u.Hosts)
		c.dependsOn(u)
		c.unitFiles(u)
	}
	c.cycles()
	c.binaries()
	c.ports()
}

// uniqueNames rejects file sets and templates, or tasks and services,
// that share a name. File sets and templates share one namespace: a
// unit's files list names either.
func (c *checker) uniqueNames(src *playbookSrc) {
	fileSets := map[string]hcl.Range{}
	for i, fs := range c.cfg.Playbook.FileSets {
		if prev, dup := fileSets[fs.Name]; dup {
			c.errorf(src.fileSets[i].NameRange, fs.DeclRange, "Duplicate file set name",
				"File set %q is already defined at %s.", fs.Name, prev)
			continue
		}
		fileSets[fs.Name] = fs.DeclRange
	}
	for i, t := range c.cfg.Playbook.Templates {
		if prev, dup := fileSets[t.Name]; dup {
			c.errorf(src.templates[i].name, t.DeclRange, "Duplicate file set name",
				"A file set or template %q is already defined at %s; a unit's files list names either, so they share one namespace.", t.Name, prev)
			continue
		}
		fileSets[t.Name] = t.DeclRange
	}
	for _, u := range c.cfg.Playbook.units() {
		if prev, dup := c.units[u.Name]; dup {
			c.errorf(c.src[u].name, u.DeclRange, "Duplicate unit name",
				"A %s named %q is already defined at %s; tasks and services share one namespace (their unit names).",
				c.src[prev].kind, u.Name, prev.DeclRange)
			continue
		}
		c.units[u.Name] = u
	}
}

// selectors checks that every selector names a host, a group or "all",
// possibly with a position in range, and warns when a block lands on no
// host at all.
func (c *checker) selectors(r, ctx hcl.Range, sel []string) {
	ok := true
	view := selectorView(c.cfg.Inventory)
	for _, s := range sel {
		terms, err := selector.Parse(s)
		if err != nil {
			ok = false
			c.errorf(r, ctx, "Invalid selector", "%s.", err)
			continue
		}
		for _, t := range terms {
			var nm *selector.NoMatchError
			switch err := t.Check(view); {
			case errors.As(err, &nm) && nm.Unknown != "":
				ok = false
				c.errorf(r, ctx, "Unknown host or group",
					"No host or group %q is in the inventory.%s", nm.Unknown, suggest(nm.Unknown, c.known))
			case err != nil:
				ok = false
				c.errorf(r, ctx, "Selector out of range", "%s.", err)
			}
		}
	}
	if ok && c.has(r) && len(c.cfg.SelectHosts(sel)) == 0 {
		c.warnf(r, ctx, "Placed on no host", "These selectors match no host in the inventory, so nothing is deployed for this block.")
	}
}

// dependsOn checks that every dependency exists and runs somewhere: a
// dependency on no host could never become healthy.
func (c *checker) dependsOn(u *Unit) {
	r := c.src[u].dependsOn
	for _, d := range u.DependsOn {
		dep, ok := c.units[d]
		switch {
		case !ok:
			c.errorf(r, u.DeclRange, "Unknown dependency",
				"No task or service %q is defined.%s", d, suggest(d, mapKeys(c.units)))
		case len(c.cfg.SelectHosts(dep.Hosts)) == 0:
			c.errorf(r, u.DeclRange, "Dependency placed on no host",
				"%q depends on %q, which is placed on no host, so it could never start.", u.Name, d)
		}
	}
}

// unitFiles checks a unit's explicit files list: each file set or
// template must exist and be pushed to every host the unit runs on.
func (c *checker) unitFiles(u *Unit) {
	r := c.src[u].files
	hosts := c.cfg.SelectHosts(u.Hosts)
	for _, name := range u.Files {
		var sel []string
		found := false
		for _, f := range c.cfg.Playbook.FileSets {
			if f.Name == name {
				sel, found = f.Hosts, true
				break
			}
		}
		for _, t := range c.cfg.Playbook.Templates {
			if !found && t.Name == name {
				sel, found = t.Hosts, true
			}
		}
		if !found {
			c.errorf(r, u.DeclRange, "Unknown file set", "No files or template %q block is defined.%s", name, suggest(name, c.fileSetNames()))
			continue
		}
		on := c.cfg.SelectHosts(sel)
		for _, h := range hosts {
			if !slices.Contains(on, h) {
				c.errorf(r, u.DeclRange, "File set not on host",
					"%q uses file set %q, but host %q is not in that file set's hosts.", u.Name, name, h.Name)
				break
			}
		}
	}
}

func (c *checker) fileSetNames() []string {
	var out []string
	for _, f := range c.cfg.Playbook.FileSets {
		out = append(out, f.Name)
	}
	for _, t := range c.cfg.Playbook.Templates {
		out = append(out, t.Name)
	}
	return out
}

// destinations rejects, per host, two templates rendered to one path and a
// template whose destination collides with a file set: a template may
// replace a file inside a file set's directory, but not the file set
// itself, nor a file set that is a single file.
func (c *checker) destinations(src *playbookSrc) {
	reported := map[string]bool{}
	report := func(t *Template, format string, args ...any) {
		i := slices.IndexFunc(c.cfg.Playbook.Templates, func(d *Template) bool { return d.Name == t.Name })
		if i < 0 {
			return
		}
		msg := fmt.Sprintf(format, args...)
		if reported[msg] {
			return
		}
		reported[msg] = true
		c.errorf(src.templates[i].destination, t.DeclRange, "Destination clash", "%s", msg)
	}
	for _, hp := range c.cfg.Placement() {
		byDest := map[string]*Template{}
		for _, t := range hp.Templates {
			if t.Destination == "" {
				continue
			}
			if prev, dup := byDest[t.Destination]; dup {
				report(t, "On host %q, templates %q and %q are both rendered to %s.", hp.Host.Name, prev.Name, t.Name, t.Destination)
				continue
			}
			byDest[t.Destination] = t
			for _, fs := range hp.FileSets {
				switch {
				case t.Destination == fs.Name:
					report(t, "On host %q, template %q would replace file set %q as a whole.", hp.Host.Name, t.Name, fs.Name)
				case strings.HasPrefix(t.Destination, fs.Name+"/") && !fs.IsDir && fs.Source != "":
					report(t, "On host %q, template %q is rendered inside %s, but file set %q is a single file.", hp.Host.Name, t.Name, fs.Name, fs.Name)
				}
			}
		}
	}
}

// cycles reports every dependency cycle once, naming its path.
func (c *checker) cycles() {
	units := c.cfg.Playbook.units()
	order := map[string]int{}
	for i, u := range units {
		if _, ok := order[u.Name]; !ok {
			order[u.Name] = i
		}
	}
	const (
		unvisited = iota
		active
		done
	)
	state := map[string]int{}
	var stack []string
	reported := map[string]bool{}
	var visit func(name string)
	visit = func(name string) {
		state[name] = active
		stack = append(stack, name)
		for _, d := range c.units[name].DependsOn {
			if _, ok := c.units[d]; !ok {
				continue
			}
			switch state[d] {
			case unvisited:
				visit(d)
			case active:
				c.reportCycle(slices.Clone(stack[slices.Index(stack, d):]), order, reported)
			}
		}
		stack = stack[:len(stack)-1]
		state[name] = done
	}
	for _, u := range units {
		if state[u.Name] == unvisited && c.units[u.Name] == u {
			visit(u.Name)
		}
	}
}

func (c *checker) reportCycle(cyc []string, order map[string]int, reported map[string]bool) {
	// Start the path at the member declared first, so the same cycle always
	// reads the same way.
	first := 0
	for i, n := range cyc {
		if order[n] < order[cyc[first]] {
			first = i
		}
	}
	cyc = append(slices.Clone(cyc[first:]), cyc[:first]...)
	path := strings.Join(append(cyc, cyc[0]), " -> ")
	if reported[path] {
		return
	}
	reported[path] = true
	u := c.units[cyc[0]]
	c.errorf(c.src[u].dependsOn, u.DeclRange, "Dependency cycle: "+path,
		"depends_on edges must form a DAG: each is a hard start-order gate. Calls that resolve lazily (OpenIM's gRPC through etcd) are not dependencies; leave them out.")
}

// binaries rejects two different binaries with the same base name (local
// files, or artifacts with another URL or SHA-256): both would be
// installed as <release>/bin/<name>.
func (c *checker) binaries() {
	byBase := map[string]*Unit{}
	for _, u := range c.cfg.Playbook.units() {
		if u.Binary == "" && u.Remote == nil {
			continue
		}
		base := u.BinaryName()
		if prev, ok := byBase[base]; ok && !sameBinary(prev, u) {
			what := fmt.Sprintf("%s and %s (used by %q)", u.BinarySource(), prev.BinarySource(), prev.Name)
			if u.BinarySource() == prev.BinarySource() {
				what = fmt.Sprintf("%s with SHA-256 %s and with %s (used by %q)", u.BinarySource(), u.Remote.SHA256, prev.Remote.SHA256, prev.Name)
			}
			c.errorf(c.src[u].binary, u.DeclRange, "Binary name clash",
				"%s would both be installed as bin/%s.", what, base)
			continue
		}
		byBase[base] = u
	}
}

// sameBinary reports whether a and b install the same file: the same
// local path, or the same artifact URL and SHA-256.
func sameBinary(a, b *Unit) bool {
	if a.Remote != nil || b.Remote != nil {
		return a.Remote != nil && b.Remote != nil && a.Remote.URL == b.Remote.URL && a.Remote.SHA256 == b.Remote.SHA256
	}
	return a.Binary == b.Binary
}

// ports rejects two instances that claim the same port on one host.
func (c *checker) ports() {
	type claim struct{ svc, inst string }
	reported := map[string]bool{}
	for _, hp := range c.cfg.Placement() {
		claims := map[int]claim{}
		for _, s := range hp.Services {
			for _, in := range s.Instances {
				for _, p := range in.Health.Ports {
					prev, clash := claims[p]
					if !clash {
						claims[p] = claim{s.Name, in.Name}
						continue
					}
					key := fmt.Sprint(p, prev, s.Name, in.Name)
					if reported[key] {
						continue
					}
					reported[key] = true
					c.errorf(c.src[&s.Unit].port, s.DeclRange, "Port clash",
						"On host %q, %s instance %s and %s instance %s both claim port %d.",
						hp.Host.Name, prev.svc, prev.inst, s.Name, in.Name, p)
				}
			}
		}
	}
}
