// Package ledger is the history of an app's releases on one host: which
// release was built, which became current (when, by which command), which
// failed a health gate and which were rolled back. It lives beside the
// audit log in the app's state directory, one event a line:
//
//	2026-12-05T07:20:00Z current 20261205T071900.123Z-ab12 from=20261201T101512.345Z-3f9a action=apply
//	2026-12-05T07:30:00Z failed 20261205T072900.001Z-cd34 action=apply units=api@0.service
//	2026-12-05T07:30:05Z rolledback 20261205T072900.001Z-cd34 to=20261205T071900.123Z-ab12 action=apply
//
// Release ids sort by the controller's clock when they were made; nothing
// here relies on that order. "rollback" returns to the release that was
// current before the current one by this history, so a release that never
// served (it failed its first batch and was rolled back) is never a target,
// and a skewed controller clock cannot reorder what "previous" means.
package ledger

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/openimsdk/openim-deploy/internal/layout"
)

// FileName is the ledger's file in the app's state directory.
const FileName = "ledger"

// Event kinds.
const (
	Built      = "built"      // a release was completed on the host
	Current    = "current"    // current was pointed at the release
	Failed     = "failed"     // an instance moved to the release failed its gate
	RolledBack = "rolledback" // instances moved to the release were moved back
)

// Entry is one line of the ledger.
type Entry struct {
	Time    string // RFC 3339, UTC, as written
	Event   string
	Release string
	Fields  map[string]string
}

// Line renders e as one ledger line. Field values must be single words.
func (e Entry) Line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s", e.Time, e.Event, e.Release)
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%s", k, Word(e.Fields[k]))
	}
	return b.String()
}

// New is an entry of event for release at now.
func New(now time.Time, event, release string, fields map[string]string) Entry {
	return Entry{Time: now.UTC().Format(time.RFC3339), Event: event, Release: release, Fields: fields}
}

// Word keeps a value to one word of printable characters ("-" when
// empty), as every field of a ledger or audit line must be: a blank or a
// newline in it would start another field or line.
func Word(s string) string {
	s = strings.Map(func(c rune) rune {
		if c <= ' ' || c == 0x7f {
			return '_'
		}
		return c
	}, s)
	if s == "" {
		return "-"
	}
	return s
}

// Parse reads ledger lines, oldest first. Lines that are not ledger
// entries (a truncated last line, a hand edit) are skipped: the ledger
// informs decisions, and a line it cannot read decides nothing.
func Parse(lines []string) []Entry {
	var out []Entry
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) < 3 || !layout.ValidReleaseID(f[2]) {
			continue
		}
		if _, err := time.Parse(time.RFC3339, f[0]); err != nil {
			continue
		}
		e := Entry{Time: f[0], Event: f[1], Release: f[2], Fields: map[string]string{}}
		for _, kv := range f[3:] {
			if k, v, ok := strings.Cut(kv, "="); ok {
				e.Fields[k] = v
			}
		}
		out = append(out, e)
	}
	return out
}

// History is a host's parsed ledger.
type History []Entry

// Served reports whether release ever became current on the host.
func (h History) Served(release string) bool {
	for _, e := range h {
		if e.Event == Current && e.Release == release {
			return true
		}
	}
	return false
}

// HasFailed reports whether an instance moved to release ever failed its gate.
func (h History) HasFailed(release string) bool {
	for _, e := range h {
		if e.Event == Failed && e.Release == release {
			return true
		}
	}
	return false
}

// Previous returns the release that was current before current, by the
// order releases became current, skipping releases not kept (kept says
// which are). ok is false when the history has no such release: the
// ledger starts after it, or current never became current by it (a host
// deployed by a version without a ledger).
func (h History) Previous(current string, kept func(string) bool) (string, bool) {
	var order []string // releases in the order they became current, repeats folded
	for _, e := range h {
		if e.Event == Current && (len(order) == 0 || order[len(order)-1] != e.Release) {
			order = append(order, e.Release)
		}
	}
	last := -1
	for i, id := range order {
		if id == current {
			last = i
		}
	}
	for i := last - 1; i >= 0; i-- {
		if order[i] != current && kept(order[i]) {
			return order[i], true
		}
	}
	return "", false
}

// Status sums up release's life for a listing: "current", "served",
// "failed", "rolled back", or "" when the ledger says nothing of it.
func (h History) Status(release, current string) []string {
	var out []string
	if release == current {
		out = append(out, "current")
	} else if h.Served(release) {
		out = append(out, "served")
	}
	if h.HasFailed(release) {
		out = append(out, "failed")
	}
	for _, e := range h {
		if e.Event == RolledBack && e.Release == release {
			out = append(out, "rolled back")
			break
		}
	}
	return out
}
