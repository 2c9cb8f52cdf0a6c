// Package selector resolves Ansible-style host patterns, as --limit takes
// them, against the inventory: pure, with no I/O.
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
			return t, fmt.Errorf("%w: %q: a subscript ends with ]", ErrSyntax, raw)
		}
		if err := t.parseSub(s[i+1 : len(s)-1]); err != nil {
			return t, fmt.Errorf("%w: %q: %v", ErrSyntax, raw, err)
		}
		s = s[:i]
	}
	if s == "" {
		return t, fmt.Errorf("%w: %q names no host or group", ErrSyntax, raw)
	}
	if strings.ContainsAny(s, "[]!&") {
		return t, fmt.Errorf("%w: %q: unexpected character", ErrSyntax, raw)
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
			return errors.New("empty subscript")
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
// inventory's). It fails on a malformed pattern and on a term that matches
// no host; the error names the term.
func Select(hosts []Host, pattern string) ([]Host, error) {
	terms, err := Parse(pattern)
	if err != nil {
		return nil, err
	}
	picked := make([]bool, len(hosts))
	if terms[0].Op != Union { // "!x" alone means "all but x", as in Ansible
		for i := range picked {
			picked[i] = true
		}
	}
	for _, t := range terms {
		m := t.match(hosts)
		if !slices.Contains(m, true) {
			return nil, fmt.Errorf("host pattern %q matches no host", t.Raw)
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
	if len(out) == 0 {
		return nil, fmt.Errorf("host pattern %q leaves no host", pattern)
	}
	return out, nil
}

// match marks the hosts t picks.
func (t Term) match(hosts []Host) []bool {
	m := make([]bool, len(hosts))
	var idx []int // positions matched by Base, in inventory order
	for i, h := range hosts {
		if t.matchBase(h) {
			idx = append(idx, i)
		}
	}
	if t.HasSub {
		idx = t.slice(idx)
	}
	for _, i := range idx {
		m[i] = true
	}
	return m
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
