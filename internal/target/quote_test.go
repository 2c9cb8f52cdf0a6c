package target

import (
	"os/exec"
	"strings"
	"testing"
)

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "''"},
		{"abc", "abc"},
		{"/usr/local/bin/openim-api", "/usr/local/bin/openim-api"},
		{"a=b,c:d@e%f+g", "a=b,c:d@e%f+g"},
		{"hello world", "'hello world'"},
		{"it's", `'it'\''s'`},
		{"'", `''\'''`},
		{"$(rm -rf /)", "'$(rm -rf /)'"},
		{"`id`", "'`id`'"},
		{"a;b", "'a;b'"},
		{"*", "'*'"},
		{"~root", "'~root'"},
		{"new\nline", "'new\nline'"},
		{"tab\there", "'tab\there'"},
		{"back\\slash", "'back\\slash'"},
		{"ünïcode", "'ünïcode'"},
	}
	for _, tt := range tests {
		if got := Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
	if got, want := QuoteArgs([]string{"echo", "a b", ""}), "echo 'a b' ''"; got != want {
		t.Errorf("QuoteArgs = %s, want %s", got, want)
	}
}

func TestCmdStringRedacts(t *testing.T) {
	c := Cmd{Args: []string{"mysql", "--password=s3cret"}, Redact: []string{"s3cret", ""}}
	if got := c.String(); strings.Contains(got, "s3cret") || !strings.Contains(got, "<redacted>") {
		t.Fatalf("String() = %q", got)
	}
}

// shellEcho runs /bin/sh with the quoted words and returns what printf saw,
// one argument per NUL-terminated field.
func shellEcho(t testing.TB, args ...string) string {
	t.Helper()
	script := "printf '%s\\0' " + QuoteArgs(args)
	out, err := exec.Command("/bin/sh", "-c", script).Output()
	if err != nil {
		t.Fatalf("sh -c %q: %v", script, err)
	}
	return string(out)
}

func TestQuoteRoundTripsThroughShell(t *testing.T) {
	args := []string{"", "plain", "two words", "it's", `"dq"`, "$HOME", "`id`", "a\\b", "*?[x]", "~", "\n", "#c", "a|b&c;d<e>f", "{a,b}"}
	want := strings.Join(args, "\x00") + "\x00"
	if got := shellEcho(t, args...); got != want {
		t.Fatalf("shell saw %q, want %q", got, want)
	}
}

func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", "a", "it's", "'''", "$(x)", "\\'\\", "a b\tc\n", "-n", "%s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.ContainsRune(s, 0) {
			t.Skip("argv cannot hold NUL")
		}
		q := Quote(s)
		if q != s && !strings.HasPrefix(q, "'") {
			t.Fatalf("Quote(%q) = %q: changed but not single-quoted", s, q)
		}
		if got := shellEcho(t, s); got != s+"\x00" {
			t.Fatalf("round trip of %q through sh gave %q", s, got)
		}
	})
}
