package ui

import (
	"strings"
	"unicode/utf8"
)

// Text from a host (journal lines, a command's output, remote stderr
// carried by an error, a lease's holder) is printed on the operator's
// terminal, which obeys what it prints: ESC sequences clear the screen,
// retitle the window or write the clipboard (OSC 52), a carriage return
// overprints a line with another. EscapeLine and EscapeLines make such
// text inert, and the Printer passes every line it prints through them;
// --output json keeps the raw text, which JSON encoding makes safe.
//
// The escape is \xHH for each byte of what is escaped, and a backslash is
// doubled where it would otherwise read as the start of an escape (before
// "x", before another backslash, before an escaped byte), so the escaped
// text can be decoded back to exactly the original: no two texts print
// the same.

// EscapeLine returns s as one terminal line: every control character but
// tab (C0, DEL and C1, newline included), every byte of invalid UTF-8 and
// the Unicode line separators and bidirectional overrides (which reorder
// or break what follows) are written as \xHH.
func EscapeLine(s string) string {
	if isPlain(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case mustEscape(r, size):
			for j := range size {
				writeByteEscape(&b, s[i+j])
			}
		case r == '\\' && backslashNeedsEscape(s[i+1:]):
			b.WriteString(`\\`)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// EscapeLines is EscapeLine for each line of s: its newlines stay, and
// nothing else that moves the cursor or talks to the terminal.
func EscapeLines(s string) string {
	if isPlain(strings.ReplaceAll(s, "\n", "")) {
		return s
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = EscapeLine(l)
	}
	return strings.Join(lines, "\n")
}

// hostLines is msg as lines of one host: escaped, the first line after
// prefix ("[lab-1] "), and every further line indented, unless it is
// already (a plan's diff lines): only the first line of a message starts
// at the left margin, so a newline in remote text cannot start a line
// that reads as another host's ("[lab-2] ok").
func hostLines(prefix, msg string) string {
	lines := strings.Split(EscapeLines(strings.TrimRight(msg, "\n")), "\n")
	for i, l := range lines[1:] {
		if l != "" && l[0] != ' ' && l[0] != '\t' {
			lines[i+1] = continuationIndent + l
		}
	}
	return prefix + strings.Join(lines, "\n")
}

// continuationIndent starts the second and later lines of a message.
const continuationIndent = "    "

// isPlain reports whether s prints as itself: printable ASCII and tab
// only, with no backslash (the common case, checked without allocating).
func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < ' ' && c != '\t') || c >= 0x7f || c == '\\' {
			return false
		}
	}
	return true
}

// mustEscape reports whether the rune r, size bytes long, is escaped.
func mustEscape(r rune, size int) bool {
	switch {
	case r == utf8.RuneError && size == 1: // a byte of invalid UTF-8
		return true
	case r == '\t':
		return false
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f: // C0, DEL, C1
		return true
	case r == 0x2028, r == 0x2029: // line and paragraph separators
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069: // bidi embeddings, overrides, isolates
		return true
	}
	return false
}

// backslashNeedsEscape reports whether a backslash followed by rest must
// be doubled to decode unambiguously.
func backslashNeedsEscape(rest string) bool {
	if rest == "" {
		return false
	}
	if rest[0] == '\\' || rest[0] == 'x' {
		return true
	}
	r, size := utf8.DecodeRuneInString(rest)
	return mustEscape(r, size)
}

func writeByteEscape(b *strings.Builder, c byte) {
	const hex = "0123456789abcdef"
	b.WriteString(`\x`)
	b.WriteByte(hex[c>>4])
	b.WriteByte(hex[c&0xf])
}
