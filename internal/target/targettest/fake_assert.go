package targettest

import (
	"regexp"
	"strings"
	"testing"
)

// ReceivedMatch fails t unless some command line received by f matches the
// regular expression expr.
func ReceivedMatch(t testing.TB, f *Fake, expr string) {
	t.Helper()
	re := regexp.MustCompile(expr)
	if !received(f, func(c Call) bool { return re.MatchString(c.Line) }) {
		t.Errorf("%s: no command matches %q; received:%s", f.name, expr, listing(f))
	}
}

// NotReceivedMatch fails t if any command line received by f matches expr.
func NotReceivedMatch(t testing.TB, f *Fake, expr string) {
	t.Helper()
	re := regexp.MustCompile(expr)
	for _, c := range f.Calls() {
		if re.MatchString(c.Line) {
			t.Errorf("%s: unwanted command matching %q: %s", f.name, expr, c.Line)
		}
	}
}

// ReceivedContains fails t unless some command line received by f contains s.
func ReceivedContains(t testing.TB, f *Fake, s string) {
	t.Helper()
	if !received(f, func(c Call) bool { return strings.Contains(c.Line, s) }) {
		t.Errorf("%s: no command contains %q; received:%s", f.name, s, listing(f))
	}
}

// NotReceivedContains fails t if any command line received by f contains s.
func NotReceivedContains(t testing.TB, f *Fake, s string) {
	t.Helper()
	for _, c := range f.Calls() {
		if strings.Contains(c.Line, s) {
			t.Errorf("%s: unwanted command containing %q: %s", f.name, s, c.Line)
		}
	}
}

// ReceivedSudo fails t unless some command received by f with Sudo set has a
// command line matching expr.
func ReceivedSudo(t testing.TB, f *Fake, expr string) {
	t.Helper()
	re := regexp.MustCompile(expr)
	if !received(f, func(c Call) bool { return c.Sudo && re.MatchString(c.Line) }) {
		t.Errorf("%s: no sudo command matches %q; received:%s", f.name, expr, listing(f))
	}
}

// NoUnexpected fails t if f received any command no matcher accepted.
func NoUnexpected(t testing.TB, f *Fake) {
	t.Helper()
	for _, l := range f.Unexpected() {
		t.Errorf("%s: unexpected command: %s", f.name, l)
	}
}

func received(f *Fake, ok func(Call) bool) bool {
	for _, c := range f.Calls() {
		if ok(c) {
			return true
		}
	}
	return false
}

func listing(f *Fake) string {
	calls := f.Calls()
	if len(calls) == 0 {
		return " (nothing)"
	}
	var b strings.Builder
	for _, c := range calls {
		b.WriteString("\n\t")
		if c.Sudo {
			b.WriteString("[sudo] ")
		}
		b.WriteString(c.Line)
	}
	return b.String()
}
