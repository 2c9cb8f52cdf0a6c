package phase

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/plan"
	"github.com/openimsdk/openim-deploy/internal/unit"
)

// PlacedUnit is one systemd unit the playbook runs on a host: a task's
// unit or one service instance.
type PlacedUnit struct {
	Name     string // systemd unit: "api@0.service", "gate.service"
	Unit     string // playbook task or service: "api", "gate"
	Instance string // instance name for a service; "" for a task
	Task     bool
	Health   config.Health // the instance's health settings; zero for tasks
}

// Short is the unit as operators type it: "api@0" or "gate".
func (p PlacedUnit) Short() string { return strings.TrimSuffix(p.Name, ".service") }

// PlacedUnits lists the units of hp in playbook order, each service's
// instances in instance order (the order unit.Instances uses).
func PlacedUnits(hp config.HostPlacement) []PlacedUnit {
	byName := map[string]PlacedUnit{}
	for _, t := range hp.Tasks {
		n := unit.TaskUnitName(t.Name)
		byName[n] = PlacedUnit{Name: n, Unit: t.Name, Task: true}
	}
	for _, s := range hp.Services {
		for _, in := range s.Instances {
			n := unit.InstanceName(s.Name, in.Name)
			byName[n] = PlacedUnit{Name: n, Unit: s.Name, Instance: in.Name, Health: in.Health}
		}
	}
	var out []PlacedUnit
	for _, n := range unit.Instances(hp) {
		out = append(out, byName[n])
	}
	return out
}

// UnitFilter picks units by the names an operator gave: a task or service
// name ("api": every instance) or one instance ("api@1"). No names picks
// every unit.
type UnitFilter struct {
	names []string
}

// All reports whether the filter picks every unit.
func (f UnitFilter) All() bool { return len(f.names) == 0 }

// Match reports whether p is picked.
func (f UnitFilter) Match(p PlacedUnit) bool { return f.picks(p.Unit, p.Name) }

// picks reports whether the systemd unit name of playbook unit u is picked.
func (f UnitFilter) picks(u, name string) bool {
	return f.All() || slices.Contains(f.names, u) || slices.Contains(f.names, strings.TrimSuffix(name, ".service"))
}

// NewUnitFilter checks names against the playbook: a typo is an error
// that lists what exists, rather than a command that does nothing.
func NewUnitFilter(pb *config.Playbook, names []string) (UnitFilter, error) {
	for _, n := range names {
		base, inst, hasInst := strings.Cut(strings.TrimSuffix(n, ".service"), "@")
		u, ok := pb.UnitByName(base)
		if !ok {
			return UnitFilter{}, fmt.Errorf("%q is not a task or service of the playbook (have: %s)", n, strings.Join(pb.UnitNames(), ", "))
		}
		if !hasInst {
			continue
		}
		svc := serviceByName(pb, u.Name)
		if svc == nil || !slices.ContainsFunc(svc.Instances, func(in config.Instance) bool { return in.Name == inst }) {
			var have []string
			if svc != nil {
				for _, in := range svc.Instances {
					have = append(have, base+"@"+in.Name)
				}
			}
			return UnitFilter{}, fmt.Errorf("%q: %s has no instance %q (have: %s)", n, base, inst, orDash(strings.Join(have, ", ")))
		}
	}
	clean := make([]string, len(names))
	for i, n := range names {
		clean[i] = strings.TrimSuffix(n, ".service")
	}
	return UnitFilter{names: clean}, nil
}

func serviceByName(pb *config.Playbook, name string) *config.Service {
	for _, s := range pb.Services {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// unitsInWave returns h's picked units of wave w, in playbook order.
func unitsInWave(h *Host, f UnitFilter, g plan.Graph, w int) []PlacedUnit {
	var out []PlacedUnit
	for _, p := range PlacedUnits(h.Placement) {
		if g.WaveOf(p.Unit) == w && f.Match(p) {
			out = append(out, p)
		}
	}
	return out
}

func unitNames(ps []PlacedUnit) []string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return names
}

func shortNames(ps []PlacedUnit) string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Short()
	}
	return strings.Join(names, " ")
}

// EachHostOf is Run.EachHost over a given list, with each host's index in
// it, for commands that collect one result per host into slots.
func EachHostOf(ctx context.Context, hosts []*Host, limit int, fn func(context.Context, int, *Host) error) error {
	index := make(map[*Host]int, len(hosts))
	for i, h := range hosts {
		index[h] = i
	}
	return eachHost(ctx, hosts, limit, func(ctx context.Context, h *Host) error { return fn(ctx, index[h], h) })
}
