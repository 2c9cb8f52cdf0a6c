package config

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// maxNameLen bounds names that end up in unit names. systemd allows 255
// bytes for a whole unit name ("<service>@<instance>.service"), so two
// names of 64 plus the suffix always fit.
const maxNameLen = 64

var (
	// nameRE is what every name reaching a unit name, a path or a remote
	// command must match: no spaces, quotes, slashes, "@" or shell
	// metacharacters, and no leading "-" or "." that would read as an
	// option or a hidden file.
	nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	// addressRE accepts host names, IPv4 and IPv6 (with zone) addresses.
	addressRE = regexp.MustCompile(`^[A-Za-z0-9_.:%\[\]][A-Za-z0-9_.:%\[\]-]*$`)
	// envNameRE is a portable environment variable name.
	envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// systemdKeyRE is a [Service] setting name.
	systemdKeyRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)
)

// checkName reports a name that is not safe as a unit name and shell word.
func (l *loader) checkName(r, ctx hcl.Range, kind, name string) bool {
	switch {
	case name == "":
		l.errorf(r, ctx, fmt.Sprintf("Invalid %s name", kind), "The %s name must not be empty.", kind)
	case len(name) > maxNameLen:
		l.errorf(r, ctx, fmt.Sprintf("Invalid %s name", kind),
			"The %s name %q is %d characters long; at most %d are allowed.", kind, name, len(name), maxNameLen)
	case !nameRE.MatchString(name):
		l.errorf(r, ctx, fmt.Sprintf("Invalid %s name", kind),
			"The %s name %q must start with a letter or digit and contain only letters, digits, \"_\", \".\" and \"-\": it becomes part of unit names, paths and remote commands.", kind, name)
	default:
		return true
	}
	return false
}

// safeValue reports whether s can be placed on one line of a unit file or
// environment file: no newline, carriage return or NUL.
func safeValue(s string) bool {
	return !strings.ContainsAny(s, "\n\r\x00")
}

// duration parses a duration attribute, which must be positive.
func (l *loader) duration(r, ctx hcl.Range, attr, s string) (time.Duration, bool) {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		l.errorf(r, ctx, "Invalid duration",
			"%s = %q is not a positive duration such as \"500ms\", \"10s\" or \"2m\".", attr, s)
		return 0, false
	}
	return d, true
}

// suggest returns " Did you mean "x"?" for the closest candidate, or "".
func suggest(name string, candidates []string) string {
	best, bestDist := "", 3 // only suggest close matches
	for _, c := range candidates {
		if d := editDistance(name, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// mapKeys returns the keys of m, sorted, for deterministic suggestions.
func mapKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// UnitNames lists the playbook's tasks, then its services, each in
// playbook order: the order commands list them in.
func (pb *Playbook) UnitNames() []string {
	names := make([]string, 0, len(pb.Tasks)+len(pb.Services))
	for _, t := range pb.Tasks {
		names = append(names, t.Name)
	}
	for _, s := range pb.Services {
		names = append(names, s.Name)
	}
	return names
}
