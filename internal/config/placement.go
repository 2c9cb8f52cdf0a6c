package config

import (
	"cmp"
	"slices"
	"strings"
)

// HostPlacement is what lands on one host: the file sets and templates
// pushed to it and the tasks and services run on it, each in playbook
// order. Every entry is evaluated for this host: host.* in args,
// environment, health, systemd and templates has this host's values.
type HostPlacement struct {
	Host      *Host
	FileSets  []*FileSet
	Templates []*Template
	Tasks     []*Task
	Services  []*Service
}

// Empty reports whether nothing at all is placed on the host.
func (hp HostPlacement) Empty() bool {
	return len(hp.FileSets)+len(hp.Templates)+len(hp.Tasks)+len(hp.Services) == 0
}

// Placement returns, for every host in inventory order, what runs on it,
// evaluated for that host. Hosts with nothing placed are included, with
// empty lists. For a Config built by hand (no Load), the declarations are
// shared by every host they are placed on.
func (c *Config) Placement() []HostPlacement {
	if c.placements != nil {
		return slices.Clone(c.placements)
	}
	out := make([]HostPlacement, 0, len(c.Inventory.Hosts))
	// Each block's hosts are resolved once, not once per host.
	picks := map[*[]string]map[*Host]bool{}
	picked := func(sel *[]string) map[*Host]bool {
		if m, ok := picks[sel]; ok {
			return m
		}
		m := map[*Host]bool{}
		for _, h := range selectHosts(c.Inventory, *sel) {
			m[h] = true
		}
		picks[sel] = m
		return m
	}
	for _, h := range c.Inventory.Hosts {
		hp := HostPlacement{Host: h}
		if pb := c.Playbook; pb != nil {
			on := func(sel *[]string) bool { return picked(sel)[h] }
			for _, fs := range pb.FileSets {
				if on(&fs.Hosts) {
					hp.FileSets = append(hp.FileSets, fs)
				}
			}
			for _, t := range pb.Templates {
				if on(&t.Hosts) {
					hp.Templates = append(hp.Templates, t)
				}
			}
			for _, t := range pb.Tasks {
				if on(&t.Hosts) {
					hp.Tasks = append(hp.Tasks, t)
				}
			}
			for _, s := range pb.Services {
				if on(&s.Hosts) {
					hp.Services = append(hp.Services, s)
				}
			}
		}
		out = append(out, hp)
	}
	return out
}

// SelectHosts returns the hosts a hosts list picks (package selector's
// patterns, the list read as one pattern), in inventory order and without
// duplicates; nothing when a pattern does not parse or resolve.
func (c *Config) SelectHosts(selectors []string) []*Host {
	return selectHosts(c.Inventory, selectors)
}

// Redact replaces every secret in s with "***". Secrets are longest first,
// so a secret that contains another is replaced whole.
func (c *Config) Redact(s string) string {
	for _, secret := range c.Secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "***")
		}
	}
	return s
}

// UnitByName returns the task or service called name.
func (pb *Playbook) UnitByName(name string) (*Unit, bool) {
	for _, t := range pb.Tasks {
		if t.Name == name {
			return &t.Unit, true
		}
	}
	for _, s := range pb.Services {
		if s.Name == name {
			return &s.Unit, true
		}
	}
	return nil, false
}

// FilesOn returns the file sets whose change restarts u on hp's host: those
// named in u's files list, or, when the playbook leaves files unset, every
// file set placed on that host. Playbook order.
func (u *Unit) FilesOn(hp HostPlacement) []*FileSet {
	if !u.FilesSet {
		return slices.Clone(hp.FileSets)
	}
	var out []*FileSet
	for _, fs := range hp.FileSets {
		if slices.Contains(u.Files, fs.Name) {
			out = append(out, fs)
		}
	}
	return out
}

// TemplatesOn returns the templates whose change restarts u on hp's host:
// those named in u's files list, or, when the playbook leaves files unset,
// every template placed on that host. Playbook order.
func (u *Unit) TemplatesOn(hp HostPlacement) []*Template {
	if !u.FilesSet {
		return slices.Clone(hp.Templates)
	}
	var out []*Template
	for _, t := range hp.Templates {
		if slices.Contains(u.Files, t.Name) {
			out = append(out, t)
		}
	}
	return out
}

// ServiceOn returns the copy of service name evaluated for hp's host.
func (hp HostPlacement) ServiceOn(name string) (*Service, bool) {
	for _, s := range hp.Services {
		if s.Name == name {
			return s, true
		}
	}
	return nil, false
}

// units returns tasks and services in declaration order (by source
// position; tasks before services when positions are unknown, as in
// configs built by hand in tests).
func (pb *Playbook) units() []*Unit {
	out := make([]*Unit, 0, len(pb.Tasks)+len(pb.Services))
	for _, t := range pb.Tasks {
		out = append(out, &t.Unit)
	}
	for _, s := range pb.Services {
		out = append(out, &s.Unit)
	}
	slices.SortStableFunc(out, func(a, b *Unit) int {
		return cmp.Compare(a.DeclRange.Start.Byte, b.DeclRange.Start.Byte)
	})
	return out
}

// Waves groups task and service names by dependency depth: wave 0 has no
// dependencies, wave n depends on something in wave n-1 and nothing deeper.
// Within a wave, names are in declaration order. Everything in a wave may
// start together; apply starts wave n+1 only when wave n is healthy.
// Unknown dependencies are ignored and a cycle (which Load rejects) is cut
// where it closes, so Waves always terminates.
func (pb *Playbook) Waves() [][]string {
	units := pb.units()
	byName := map[string]*Unit{}
	for _, u := range units {
		if _, dup := byName[u.Name]; !dup {
			byName[u.Name] = u
		}
	}
	depth := map[string]int{}
	visiting := map[string]bool{}
	var depthOf func(name string) int
	depthOf = func(name string) int {
		if d, ok := depth[name]; ok {
			return d
		}
		if visiting[name] {
			return -1 // cycle: counts as no dependency
		}
		visiting[name] = true
		d := 0
		for _, dep := range byName[name].DependsOn {
			if _, ok := byName[dep]; ok {
				d = max(d, depthOf(dep)+1)
			}
		}
		visiting[name] = false
		depth[name] = d
		return d
	}
	var waves [][]string
	for _, u := range units {
		if byName[u.Name] != u {
			continue
		}
		d := depthOf(u.Name)
		for len(waves) <= d {
			waves = append(waves, nil)
		}
		waves[d] = append(waves[d], u.Name)
	}
	return waves
}
