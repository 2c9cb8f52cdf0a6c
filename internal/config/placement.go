package config

import (
	"cmp"
	"slices"
	"strings"
)

// HostPlacement is what lands on one host: the file sets pushed to it and
// the tasks and services run on it, each in playbook order.
type HostPlacement struct {
	Host     *Host
	FileSets []*FileSet
	Tasks    []*Task
	Services []*Service
}

// Placement returns, for every host in inventory order, what runs on it.
// Hosts with nothing placed are included, with empty lists.
func (c *Config) Placement() []HostPlacement {
	out := make([]HostPlacement, 0, len(c.Inventory.Hosts))
	for _, h := range c.Inventory.Hosts {
		hp := HostPlacement{Host: h}
		if pb := c.Playbook; pb != nil {
			for _, fs := range pb.FileSets {
				if h.Matches(fs.Hosts) {
					hp.FileSets = append(hp.FileSets, fs)
				}
			}
			for _, t := range pb.Tasks {
				if h.Matches(t.Hosts) {
					hp.Tasks = append(hp.Tasks, t)
				}
			}
			for _, s := range pb.Services {
				if h.Matches(s.Hosts) {
					hp.Services = append(hp.Services, s)
				}
			}
		}
		out = append(out, hp)
	}
	return out
}

// Matches reports whether any selector picks h: "all", h's name, or one
// of h's groups.
func (h *Host) Matches(selectors []string) bool {
	for _, s := range selectors {
		if s == "all" || s == h.Name || slices.Contains(h.Groups, s) {
			return true
		}
	}
	return false
}

// SelectHosts returns the hosts any selector picks, in inventory order and
// without duplicates.
func (c *Config) SelectHosts(selectors []string) []*Host {
	var out []*Host
	for _, h := range c.Inventory.Hosts {
		if h.Matches(selectors) {
			out = append(out, h)
		}
	}
	return out
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
