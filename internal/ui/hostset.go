package ui

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// HostSets knows the fleet's hosts and groups, to name a set of hosts
// briefly: "lab-1..3", "app: 40 hosts".
type HostSets struct {
	Order  []string            // every host, inventory order
	Groups []Group             // groups, in order of first appearance
	index  map[string]int      // host -> position in Order
	byName map[string][]string // group -> members
}

// Group is an inventory group and its members in inventory order.
type Group struct {
	Name  string
	Hosts []string
}

// NewHostSets indexes the fleet.
func NewHostSets(order []string, groups []Group) *HostSets {
	hs := &HostSets{Order: order, Groups: groups, index: map[string]int{}, byName: map[string][]string{}}
	for i, h := range order {
		hs.index[h] = i
	}
	for _, g := range groups {
		hs.byName[g.Name] = g.Hosts
	}
	return hs
}

// bigSet is the size from which a set equal to a whole group is named by
// the group: below it, the names themselves say more.
const bigSet = 6

// Name renders hosts (any order) as one short label:
//   - every host of the run, or a whole group, from bigSet hosts on:
//     "all: 40 hosts", "app: 12 hosts";
//   - otherwise runs of names that differ only by a consecutive number
//     collapse: lab-1,lab-2,lab-3,db-1 is "lab-1..3,db-1".
func (hs *HostSets) Name(hosts []string) string {
	sorted := slices.Clone(hosts)
	slices.SortStableFunc(sorted, func(a, b string) int { return hs.pos(a) - hs.pos(b) })
	sorted = slices.Compact(sorted)
	if len(sorted) >= bigSet {
		if slices.Equal(sorted, hs.Order) {
			return fmt.Sprintf("all: %d hosts", len(sorted))
		}
		for _, g := range hs.Groups {
			if slices.Equal(sorted, g.Hosts) {
				return fmt.Sprintf("%s: %d hosts", g.Name, len(sorted))
			}
		}
	}
	return CompactNames(sorted)
}

func (hs *HostSets) pos(h string) int {
	if i, ok := hs.index[h]; ok {
		return i
	}
	return len(hs.Order)
}

// CompactNames joins names with commas, collapsing runs of consecutive
// numeric suffixes with the same prefix: [lab-1 lab-2 lab-3 lab-5] is
// "lab-1..3,lab-5". Order is kept.
func CompactNames(names []string) string {
	var parts []string
	for i := 0; i < len(names); {
		prefix, n, ok := splitNumber(names[i])
		j := i + 1
		if ok {
			for j < len(names) {
				p2, n2, ok2 := splitNumber(names[j])
				if !ok2 || p2 != prefix || n2 != n+(j-i) {
					break
				}
				j++
			}
		}
		if j-i > 1 {
			_, last, _ := splitNumber(names[j-1])
			parts = append(parts, fmt.Sprintf("%s%d..%d", prefix, n, last))
		} else {
			parts = append(parts, names[i])
		}
		i = j
	}
	return strings.Join(parts, ",")
}

// splitNumber splits "lab-12" into "lab-" and 12. Names with a leading zero
// in the number ("im-01") are not split: "im-01..03" would misname them.
func splitNumber(s string) (string, int, bool) {
	i := len(s)
	for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
		i--
	}
	digits := s[i:]
	if digits == "" || i == 0 || (len(digits) > 1 && digits[0] == '0') || len(digits) > 9 {
		return "", 0, false
	}
	n, err := strconv.Atoi(digits)
	return s[:i], n, err == nil
}
