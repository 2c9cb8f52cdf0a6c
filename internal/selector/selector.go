// Package selector resolves Ansible-style host patterns against the
// inventory: pure, with no I/O. It is the one grammar of host patterns:
// --limit takes a pattern, and a playbook's hosts = [...] (and hosts())
// is a list of patterns read as one, its elements joined with commas.
//
// A pattern is a comma-separated list of terms, applied left to right:
//
//	im-1            a host name
//	app             a group: every host in it
//	all, *          every host
//	im-*, lab-?     a glob over host and group names (* and ? only)
//	app[0]          the first host of a group (or of any term); [-1] is the last
//	app[1:3]        hosts 1 to 3 of it, both ends included, as Ansible counts
//	app[:2], app[2:] open ranges
//	!im-3           exclude what the term matches
//	&rpc            keep only hosts the term also matches
//
// Hosts come out in inventory order whatever the order of the terms, and a
// term that matches nothing, or a pattern that leaves no host, is an
// error: a typo in --limit must not quietly
// widen or empty a run.
package selector

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Host is what a pattern can see of an inventory host.
type Host struct {
	Name   string
	Groups []string
}

// Op says how a term combines with the terms before it.
type Op int

// Term operators.
const (
	Union     Op = iota // plain term
	Exclude             // !term
	Intersect           // &term
)

// Term is one parsed comma-separated element of a pattern.
type Term struct {
	Op   Op
	Base string // name, group, glob, "all" or "*"
	// Subscript, when HasSub is set, picks hosts by position within what
	// Base matches: From..To inclusive; To = nil means to the end; From
	// equal to To (a single index) may be negative, counting from the end.
	HasSub   bool
	From, To *int
	Raw      string
}

// ErrSyntax wraps every malformed pattern.
var ErrSyntax = errors.New("bad host pattern")

// Parse splits pattern into terms. Blanks around terms are ignored.
func Parse(pattern string) ([]Term, error) {
	var terms []Term
	for raw := range strings.SplitSeq(pattern, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		t, err := parseTerm(raw)
		if err != nil {
			return nil, err
		}
		terms = append(terms, t)
	}
	if len(terms) == 0 {
		return nil, fmt.Errorf("%w: %q is empty", ErrSyntax, pattern)
	}
	return terms, nil
}

func parseTerm(raw string) (Term, error) {
	t := Term{Raw: raw}
	s := raw
	switch s[0] {
	case '!':
		t.Op, s = Exclude, s[1:]
	case '&':
		t.Op, s = Intersect, s[1:]
	}
	if i := strings.IndexByte(s, '['); i >= 0 {
		if !strings.HasSuffix(s, "]") {
			return t, fmt.Errorf("%w: %q: a position is written NAME[N] or NAME[A:B], and ends with ]", ErrSyntax, raw)
		}
		if err := t.parseSub(s[i+1 : len(s)-1]); err != nil {
			return t, fmt.Errorf("%w: %q: %v", ErrSyntax, raw, err)
		}
		s = s[:i]
	}
	if s == "" {
		return t, fmt.Errorf("%w: %q names no host or group", ErrSyntax, raw)
	}
	if strings.ContainsAny(s, "[]") {
		return t, fmt.Errorf("%w: %q: a position is written NAME[N] or NAME[A:B]", ErrSyntax, raw)
	}
	if strings.ContainsAny(s, "!&") {
		return t, fmt.Errorf("%w: %q: ! and & only start a term", ErrSyntax, raw)
	}
	t.Base = s
	return t, nil
}

func (t *Term) parseSub(sub string) error {
	t.HasSub = true
	num := func(s string) (*int, error) {
		if s == "" {
			return nil, nil
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", s)
		}
		return &n, nil
	}
	from, to, isRange := strings.Cut(sub, ":")
	f, err := num(from)
	if err != nil {
		return err
	}
	if !isRange {
		if f == nil {
			return errors.New("empty subscript: the brackets need a position, as in app[0]")
		}
		t.From, t.To = f, f
		return nil
	}
	e, err := num(to)
	if err != nil {
		return err
	}
	if (f != nil && *f < 0) || (e != nil && *e < 0) {
		return errors.New("a range takes no negative bounds")
	}
	if f != nil && e != nil && *e < *f {
		return fmt.Errorf("range %d:%d runs backwards", *f, *e)
	}
	zero := 0
	if f == nil {
		f = &zero
	}
	t.From, t.To = f, e
	return nil
}

// Select returns the hosts pattern picks, in the order of hosts (the
// inventory's). It fails on a malformed pattern, on a term that matches
// no host (the error names the term and why), and on a pattern that
// leaves no host.
func Select(hosts []Host, pattern string) ([]Host, error) {
	terms, err := Parse(pattern)
	if err != nil {
		return nil, err
	}
	out, err := Resolve(hosts, terms)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("host pattern %q leaves no host", pattern)
	}
	return out, nil
}

// ParseList parses a list of patterns (a playbook's hosts = [...]) as one
// pattern, its elements in order: ["app", "!app[0]"] is "app,!app[0]".
func ParseList(patterns []string) ([]Term, error) {
	var terms []Term
	for _, p := range patterns {
		ts, err := Parse(p)
		if err != nil {
			return nil, err
		}
		terms = append(terms, ts...)
	}
	return terms, nil
}

// NoMatchError is a term that matches no host, and why.
type NoMatchError struct {
	Term string // as written
	// Unknown is the name the term gives when no host or group has it
	// (and it is no glob): a typo, to suggest a name for.
	Unknown string
	Why     string
}

func (e *NoMatchError) Error() string {
	return fmt.Sprintf("host pattern %q matches no host: %s", e.Term, e.Why)
}

// Resolve returns the hosts terms pick, in the order of hosts, applying
// the terms left to right. A term that matches no host is an error
// (*NoMatchError); a result with no host is not (a caller decides).
func Resolve(hosts []Host, terms []Term) ([]Host, error) {
	picked := make([]bool, len(hosts))
	if len(terms) > 0 && terms[0].Op != Union { // "!x" alone means "all but x", as in Ansible
		for i := range picked {
			picked[i] = true
		}
	}
	for _, t := range terms {
		m, err := t.match(hosts)
		if err != nil {
			return nil, err
		}
		for i := range picked {
			switch t.Op {
			case Union:
				picked[i] = picked[i] || m[i]
			case Exclude:
				picked[i] = picked[i] && !m[i]
			case Intersect:
				picked[i] = picked[i] && m[i]
			}
		}
	}
	var out []Host
	for i, h := range hosts {
		if picked[i] {
			out = append(out, h)
		}
	}
	return out, nil
}

// Check says why t picks no host of hosts (a *NoMatchError), or nil.
func (t Term) Check(hosts []Host) error {
	_, err := t.match(hosts)
	return err
}

// match marks the hosts t picks, or says why it picks none.
func (t Term) match(hosts []Host) ([]bool, error) {
	m := make([]bool, len(hosts))
	var idx []int // positions matched by Base, in inventory order
	for i, h := range hosts {
		if t.matchBase(h) {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		e := &NoMatchError{Term: t.Raw, Why: fmt.Sprintf("no host or group matches %q", t.Base)}
		if !strings.ContainsAny(t.Base, "*?") {
			e.Unknown, e.Why = t.Base, fmt.Sprintf("no host or group %q is in the inventory", t.Base)
		}
		return nil, e
	}
	if t.HasSub {
		n := len(idx)
		if idx = t.slice(idx); len(idx) == 0 {
			last := "positions 0 to " + strconv.Itoa(n-1)
			if n == 1 {
				last = "position 0"
			}
			return nil, &NoMatchError{Term: t.Raw, Why: fmt.Sprintf("%s has %s (%s, or -1 for the last)", t.Base, plural(n, "host"), last)}
		}
	}
	for _, i := range idx {
		m[i] = true
	}
	return m, nil
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func (t Term) matchBase(h Host) bool {
	if t.Base == "all" || t.Base == "*" {
		return true
	}
	if !strings.ContainsAny(t.Base, "*?") {
		return h.Name == t.Base || slices.Contains(h.Groups, t.Base)
	}
	if ok, _ := path.Match(t.Base, h.Name); ok {
		return true
	}
	for _, g := range h.Groups {
		if ok, _ := path.Match(t.Base, g); ok {
			return true
		}
	}
	return false
}

// slice applies the subscript to the matched positions.
func (t Term) slice(idx []int) []int {
	n := len(idx)
	from := *t.From
	if t.To != nil && *t.To == from { // a single index
		if from < 0 {
			from += n
		}
		if from < 0 || from >= n {
			return nil
		}
		return idx[from : from+1]
	}
	to := n - 1
	if t.To != nil {
		to = min(*t.To, n-1)
	}
	if from > to {
		return nil
	}
	return idx[from : to+1]
}
