package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Selector is one entry of a hosts list (or of --limit): "all", a host
// name, a group name, or a group narrowed by position in inventory order,
// "GROUP[N]" (one host) or "GROUP[A:B]" (hosts A to B, both included, as
// in Ansible's patterns, which --limit follows too; either bound may be
// left out).
type Selector struct {
	// Name is the host, group or "all".
	Name string
	// Indexed is set for GROUP[N] and GROUP[A:B].
	Indexed bool
	// Slice is set for GROUP[A:B]; then From and To bound it (To < 0: to
	// the end). For GROUP[N], From is N.
	Slice    bool
	From, To int
}

// ParseSelector parses one selector. It checks only the syntax; Resolve
// says whether the inventory has what it names.
func ParseSelector(s string) (Selector, error) {
	open := strings.IndexByte(s, '[')
	if open < 0 {
		if strings.ContainsAny(s, "]:") {
			return Selector{}, fmt.Errorf("%q: a position is written GROUP[N] or GROUP[A:B]", s)
		}
		return Selector{Name: s}, nil
	}
	if open == 0 || !strings.HasSuffix(s, "]") {
		return Selector{}, fmt.Errorf("%q: a position is written GROUP[N] or GROUP[A:B]", s)
	}
	sel := Selector{Name: s[:open], Indexed: true, To: -1}
	inner := s[open+1 : len(s)-1]
	num := func(t string, dflt int) (int, error) {
		if t == "" {
			return dflt, nil
		}
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 || strings.HasPrefix(t, "+") {
			return 0, fmt.Errorf("%q: %q is not a position (a whole number from 0)", s, t)
		}
		return n, nil
	}
	from, to, isSlice := strings.Cut(inner, ":")
	if !isSlice {
		if inner == "" {
			return Selector{}, fmt.Errorf("%q: the brackets need a position, as in %s[0]", s, sel.Name)
		}
		n, err := num(inner, 0)
		if err != nil {
			return Selector{}, err
		}
		sel.From = n
		return sel, nil
	}
	sel.Slice = true
	var err error
	if sel.From, err = num(from, 0); err != nil {
		return Selector{}, err
	}
	if sel.To, err = num(to, -1); err != nil {
		return Selector{}, err
	}
	if sel.To >= 0 && sel.To < sel.From {
		return Selector{}, fmt.Errorf("%q: the slice ends before it starts", s)
	}
	return sel, nil
}

// String writes the selector as it is parsed.
func (s Selector) String() string {
	switch {
	case !s.Indexed:
		return s.Name
	case !s.Slice:
		return fmt.Sprintf("%s[%d]", s.Name, s.From)
	case s.To < 0:
		return fmt.Sprintf("%s[%d:]", s.Name, s.From)
	default:
		return fmt.Sprintf("%s[%d:%d]", s.Name, s.From, s.To)
	}
}

// Resolve returns the hosts of inv the selector picks, in inventory order,
// or an error saying why it picks nothing that exists (an unknown name, a
// position past the end of the group).
func (s Selector) Resolve(inv *Inventory) ([]*Host, error) {
	var members []*Host
	for _, h := range inv.Hosts {
		if h.Matches([]string{s.Name}) {
			members = append(members, h)
		}
	}
	if len(members) == 0 {
		return nil, fmt.Errorf("no host or group %q is in the inventory", s.Name)
	}
	if !s.Indexed {
		return members, nil
	}
	n := len(members)
	if !s.Slice {
		if s.From >= n {
			return nil, fmt.Errorf("%s: %s has %s (positions 0 to %d)", s, s.Name, plural(n, "host"), n-1)
		}
		return members[s.From : s.From+1], nil
	}
	last := s.To
	if last < 0 {
		last = n - 1
	}
	if s.From >= n || last >= n {
		return nil, fmt.Errorf("%s: %s has %s, so a slice may end at %d at most", s, s.Name, plural(n, "host"), n-1)
	}
	return members[s.From : last+1], nil
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// selectHosts returns the hosts any selector picks, in inventory order and
// without duplicates; a selector that does not parse or resolve picks
// nothing (validation reports it).
func selectHosts(inv *Inventory, selectors []string) []*Host {
	picked := map[*Host]bool{}
	for _, raw := range selectors {
		sel, err := ParseSelector(raw)
		if err != nil {
			continue
		}
		hosts, _ := sel.Resolve(inv)
		for _, h := range hosts {
			picked[h] = true
		}
	}
	var out []*Host
	for _, h := range inv.Hosts {
		if picked[h] {
			out = append(out, h)
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
