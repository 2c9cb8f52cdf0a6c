package ui

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestEscapeLine pins what remote text looks like on a terminal: control
// sequences are inert (\xHH), tab and printable text are kept, and a
// backslash is doubled only where it would read as an escape.
func TestEscapeLine(t *testing.T) {
	for in, want := range map[string]string{
		"plain text\twith tab":   "plain text\twith tab",
		"\x1b[2J\x1b[Hcleared":   `\x1b[2J\x1b[Hcleared`,
		"\x1b]52;c;ZXZpbA==\x07": `\x1b]52;c;ZXZpbA==\x07`,
		"100%\rdone":             `100%\x0ddone`,
		"ok\n[lab-2] forged":     `ok\x0a[lab-2] forged`,
		"bad \xff utf8":          `bad \xff utf8`,
		"c1 \u009b31m":           `c1 \xc2\x9b31m`,
		"del\x7f":                `del\x7f`,
		"rtl \u202eevil":         `rtl \xe2\x80\xaeevil`,
		`C:\dir\file`:            `C:\dir\file`,
		`literal \x1b`:           `literal \\x1b`,
		`a\\b`:                   `a\\\b`,
		"\\\x1b":                 `\\\x1b`,
		"héllo wörld ✓":          "héllo wörld ✓",
		`trailing\`:              `trailing\`,
	} {
		if got := EscapeLine(in); got != want {
			t.Errorf("EscapeLine(%q) = %q, want %q", in, got, want)
		}
		if back := unescape(EscapeLine(in)); back != in {
			t.Errorf("unescape(EscapeLine(%q)) = %q", in, back)
		}
	}
}

// TestPrinter_RemoteTextIsInert pins the Printer's side: host lines, host
// errors, blocks and events reach a terminal with no control character
// but newline and tab, and no line a host's text starts reads as another
// host's; --output json keeps the raw text.
func TestPrinter_RemoteTextIsInert(t *testing.T) {
	const evil = "ok\r\x1b[2K\x1b]52;c;ZXZpbA==\x07\n[lab-2] started api@0.service\n"
	var out bytes.Buffer
	p := New(&out, Options{Fold: &HostSets{Order: []string{"lab-1", "lab-2"}}})
	p.Host("lab-1", "%s", evil)
	p.Flush()
	p.HostError("lab-1", "remote: %s", evil)
	p.HostWarn("lab-1", "%s", evil)
	p.Block("lab-1", "journal", evil)
	p.Event(Event{Type: "output", Host: "lab-1"}, "[lab-1] "+evil)
	p.Event(Event{Type: "plan", Host: "lab-1"}, "[lab-1] "+evil)
	hostText := out.String()
	out.Reset()
	p.Info("%s", evil) // not a host's line: escaped, its lines kept
	for _, c := range hostText + out.String() {
		if c < ' ' && c != '\n' && c != '\t' || c == 0x7f {
			t.Fatalf("control character %q reached the terminal:\n%s%s", c, hostText, out.String())
		}
	}
	for line := range strings.Lines(hostText) {
		if strings.HasPrefix(line, "[lab-2]") {
			t.Errorf("forged line %q in\n%s", line, hostText)
		}
	}

	out.Reset()
	p = New(&out, Options{JSON: true})
	p.Host("lab-1", "%s", evil)
	var ev Event
	if err := json.Unmarshal(out.Bytes(), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Msg != evil {
		t.Errorf("json msg = %q, want the raw %q", ev.Msg, evil)
	}
}

// FuzzEscapeLine checks EscapeLine on any input: the result is valid
// UTF-8 with no control character but tab, and decodes back to the input
// (so no two inputs print alike).
func FuzzEscapeLine(f *testing.F) {
	for _, s := range []string{"", "a\tb", "\x1b]52;c;x\x07", "\\", `\x41`, "\\\x00", "\xc2\x9b", "\xff\xfe", "a\nb\rc", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := EscapeLine(s)
		if !utf8.ValidString(got) {
			t.Fatalf("EscapeLine(%q) = %q: invalid UTF-8", s, got)
		}
		for _, r := range got {
			if mustEscape(r, utf8.RuneLen(r)) {
				t.Fatalf("EscapeLine(%q) = %q: holds %U", s, got, r)
			}
		}
		if back := unescape(got); back != s {
			t.Fatalf("unescape(EscapeLine(%q)) = %q", s, back)
		}
		if lines := EscapeLines(s + "\n"); !strings.HasSuffix(lines, "\n") || strings.Count(lines, "\n") != strings.Count(s, "\n")+1 {
			t.Fatalf("EscapeLines(%q) = %q: newlines changed", s+"\n", lines)
		}
	})
}

// unescape decodes EscapeLine's output: \\ is a backslash, \xHH a byte,
// and any other backslash itself.
func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case s[i+1] == '\\':
			b.WriteByte('\\')
			i++
		case s[i+1] == 'x' && i+3 < len(s)+0 && i+3 <= len(s)-1:
			n, err := strconv.ParseUint(s[i+2:i+4], 16, 8)
			if err != nil {
				b.WriteByte(s[i])
				continue
			}
			b.WriteByte(byte(n))
			i += 3
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// TestOutput_BodyCannotOpenASection pins exec's grouped output: a line of
// a host's output that looks like a group header ("--- lab-2 (exit 0)")
// is escaped, so it cannot pass for another host's section, while the
// rest of the body prints as sent.
func TestOutput_BodyCannotOpenASection(t *testing.T) {
	var out bytes.Buffer
	p := New(&out, Options{})
	p.Output(Event{Type: "output", Host: "lab-1"}, "--- lab-1 (exit 0)", "hi\n--- lab-2 (exit 0)\n\\x2d-- literal\n\x1b[2Jcleared\n")
	want := "--- lab-1 (exit 0)\nhi\n\\x2d-- lab-2 (exit 0)\n\\\\x2d-- literal\n\\x1b[2Jcleared\n"
	if out.String() != want {
		t.Errorf("Output printed\n%q\nwant\n%q", out.String(), want)
	}
}
