package ui

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// gateSet is the health gates being waited on, shown on the status line
// as "waiting for health: openim-push@0..7 on [lab-1..3] (4.2 s)".
type gateSet struct {
	sets  *HostSets // names host sets; nil: names listed as they are
	waits []*gateWait
	act   *activity
	// started is when the first gate of the set began: the time shown only
	// grows while gates come and go, as a wave's gates do.
	started time.Time
}

type gateWait struct {
	host, unit string
}

// Waiting shows on the status line that host waits for unit's health gate
// ("openim-push@3.service"), until the returned func is called. Gates of
// many hosts and instances share the line, grouped by service and host
// set, with the time since the first of them began.
func (p *Printer) Waiting(host, unit string) (done func()) {
	if p.live == nil {
		return func() {}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.live
	now := l.clk.Now()
	if l.gates == nil {
		g := &gateSet{started: now}
		if p.fold != nil {
			g.sets = p.fold.sets
		}
		g.act = p.startActivityLocked(g.render)
		l.gates = g
	}
	g := l.gates
	w := &gateWait{host: host, unit: strings.TrimSuffix(unit, ".service")}
	g.waits = append(g.waits, w)
	return func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		g.waits = slices.DeleteFunc(g.waits, func(x *gateWait) bool { return x == w })
		if len(g.waits) == 0 && l.gates == g {
			l.gates = nil
			p.endActivityLocked(g.act)
		}
	}
}

// render runs under the Printer's lock, like every change to g.
func (g *gateSet) render(now time.Time) string {
	if len(g.waits) == 0 {
		return ""
	}
	var services []string             // in order of first wait
	perHost := map[string][]string{}  // service -> hosts in order of first wait
	units := map[[2]string][]string{} // (service, host) -> units
	for _, w := range g.waits {
		svc, _, _ := strings.Cut(w.unit, "@")
		if _, ok := perHost[svc]; !ok {
			services = append(services, svc)
		}
		key := [2]string{svc, w.host}
		if _, ok := units[key]; !ok {
			perHost[svc] = append(perHost[svc], w.host)
		}
		units[key] = append(units[key], w.unit)
	}
	var parts []string
	for _, svc := range services {
		// Hosts that wait for the same instances share one entry.
		var order []string
		hostsOf := map[string][]string{}
		for _, h := range perHost[svc] {
			names := slices.Clone(units[[2]string{svc, h}])
			slices.SortFunc(names, naturalOrder)
			label := instanceLabel(svc, slices.Compact(names))
			if _, ok := hostsOf[label]; !ok {
				order = append(order, label)
			}
			hostsOf[label] = append(hostsOf[label], h)
		}
		for _, label := range order {
			parts = append(parts, fmt.Sprintf("%s on [%s]", label, g.name(hostsOf[label])))
		}
	}
	return fmt.Sprintf("waiting for health: %s (%.1f s)", strings.Join(parts, ", "), now.Sub(g.started).Seconds())
}

// instanceLabel names a service's instances once: "push@0,2..3", not
// "push@0,push@2..3".
func instanceLabel(svc string, names []string) string {
	if !strings.Contains(names[0], "@") {
		return CompactNames(names) // a unit without instances
	}
	parts := strings.Split(CompactNames(names), ",")
	for i, p := range parts {
		parts[i] = strings.TrimPrefix(p, svc+"@")
	}
	return svc + "@" + strings.Join(parts, ",")
}

func (g *gateSet) name(hosts []string) string {
	if g.sets != nil {
		return g.sets.Name(hosts)
	}
	return CompactNames(hosts)
}

// naturalOrder sorts "api@2" before "api@10", and names without a number
// as strings.
func naturalOrder(a, b string) int {
	pa, na, oka := splitNumber(a)
	pb, nb, okb := splitNumber(b)
	if oka && okb && pa == pb {
		return cmp.Compare(na, nb)
	}
	return strings.Compare(a, b)
}
