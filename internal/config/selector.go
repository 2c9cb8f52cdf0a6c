package config

import (
	"slices"

	"github.com/openimsdk/openim-deploy/internal/selector"
)

// A playbook's hosts = [...] and hosts() speak the one host-pattern
// grammar, package selector's, as --limit does (docs/cli.md, Host patterns): a list is
// one pattern, its elements joined with commas, so ["app", "!app[0]"] is
// every host of app but the first.

// resolveHosts returns the hosts the patterns pick, in inventory order, or
// why a term picks none (a *selector.NoMatchError) or a pattern does not
// parse.
func resolveHosts(inv *Inventory, patterns []string) ([]*Host, error) {
	terms, err := selector.ParseList(patterns)
	if err != nil {
		return nil, err
	}
	picked, err := selector.Resolve(selectorView(inv), terms)
	if err != nil {
		return nil, err
	}
	return pick(inv, picked), nil
}

// selectorView is the inventory as package selector sees it.
func selectorView(inv *Inventory) []selector.Host {
	view := make([]selector.Host, len(inv.Hosts))
	for i, h := range inv.Hosts {
		view[i] = selector.Host{Name: h.Name, Groups: h.Groups}
	}
	return view
}

// selectHosts returns the hosts the patterns pick, in inventory order. A
// term that does not parse or picks no host is left out (validation
// reports it), so the rest of the list still places its block and the
// checks that follow (port clashes) still see it.
func selectHosts(inv *Inventory, patterns []string) []*Host {
	view := selectorView(inv)
	var terms []selector.Term
	for _, p := range patterns {
		ts, err := selector.Parse(p)
		if err != nil {
			continue
		}
		for _, t := range ts {
			if t.Check(view) == nil {
				terms = append(terms, t)
			}
		}
	}
	picked, _ := selector.Resolve(view, terms)
	return pick(inv, picked)
}

// pick maps hosts package selector picked (in inventory order) back to
// the inventory's.
func pick(inv *Inventory, picked []selector.Host) []*Host {
	out := make([]*Host, 0, len(picked))
	next := 0 // both in inventory order: walk them once
	for _, h := range inv.Hosts {
		if next < len(picked) && picked[next].Name == h.Name {
			out = append(out, h)
			next++
		}
	}
	return out
}

// hostNames lists the names of hosts, for messages.
func hostNames(hosts []*Host) []string {
	out := make([]string, len(hosts))
	for i, h := range hosts {
		out[i] = h.Name
	}
	return slices.Clip(out)
}
