package unit

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// systemd parses each key's value with its own rules, so each kind of value
// gets its own escaper:
//
//   - ExecStart= (execWord): the line is split into words with C-style
//     quoting (double quotes group, backslash escapes \\ \" \n \t \xNN), a lone
//     ; separates commands, specifiers (%i, %%) are expanded per word, and
//     at exec time $VAR / ${VAR} are replaced from the environment ($$ is a
//     literal $). An argument is passed to the process byte for byte only
//     when all four layers are escaped.
//   - Environment= (envAssignment): specifiers are expanded on the whole
//     value, then it is split into quoted words like ExecStart=; there is
//     no $ expansion.
//   - Description=, paths and user names: specifiers only. Paths and user
//     names are validated to a safe alphabet instead of escaped, because
//     WorkingDirectory= and EnvironmentFile= have no quoting at all.
//   - EnvironmentFile= contents (envFileValue): shell-like double quotes in
//     which \ escapes " \ ` $; no specifiers, no expansion.

// execWord escapes one ExecStart= argument. When instance is true a "%i" is
// kept as systemd's instance specifier (scanning left to right, so "%%i" is
// a literal % followed by the instance); every other % is doubled. Words
// made only of safe characters stay bare; the rest are double-quoted.
func execWord(arg string, instance bool) (string, error) {
	if err := checkText(arg, false); err != nil {
		return "", err
	}
	var b strings.Builder
	for i := 0; i < len(arg); i++ {
		c := arg[i]
		switch {
		case c == '%' && instance && i+1 < len(arg) && arg[i+1] == 'i':
			b.WriteString("%i")
			i++
		case c == '%':
			b.WriteString("%%")
		case c == '$':
			b.WriteString("$$")
		default:
			writeCEscaped(&b, c)
		}
	}
	if arg != "" && isSafeWord(arg) {
		return b.String(), nil
	}
	return `"` + b.String() + `"`, nil
}

// execLine renders an ExecStart= value: the binary path, then the escaped
// arguments. The path is validated, not escaped, by the caller.
func execLine(bin string, args []string, instance bool) (string, error) {
	words := []string{bin}
	for i, a := range args {
		w, err := execWord(a, instance)
		if err != nil {
			return "", fmt.Errorf("argument %d: %w", i+1, err)
		}
		words = append(words, w)
	}
	return strings.Join(words, " "), nil
}

// envAssignment renders one Environment= value: "KEY=value", always quoted,
// with specifiers and C escapes neutralised. systemd does not expand $ here.
func envAssignment(key, value string) (string, error) {
	if !envName.MatchString(key) {
		return "", fmt.Errorf("environment name %q is not a valid variable name", key)
	}
	if err := checkText(value, true); err != nil {
		return "", fmt.Errorf("environment %s: %w", key, err)
	}
	var b strings.Builder
	b.WriteByte('"')
	b.WriteString(key)
	b.WriteByte('=')
	for i := 0; i < len(value); i++ {
		if value[i] == '%' {
			b.WriteString("%%")
			continue
		}
		writeCEscaped(&b, value[i])
	}
	b.WriteByte('"')
	return b.String(), nil
}

// envFileValue renders value for a double-quoted EnvironmentFile= line.
// Newlines and tabs are kept literally: systemd's env-file parser keeps them
// inside double quotes, as the shell does.
func envFileValue(value string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range []byte(value) {
		if strings.IndexByte("\"\\`$", c) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return b.String()
}

// escapePercent doubles every % so systemd's specifier expansion leaves s alone.
func escapePercent(s string) string { return strings.ReplaceAll(s, "%", "%%") }

// writeCEscaped writes c, backslash-escaped where systemd's C-unescaping
// (EXTRACT_CUNESCAPE) would otherwise change or reject it.
func writeCEscaped(b *strings.Builder, c byte) {
	switch c {
	case '\\', '"':
		b.WriteByte('\\')
		b.WriteByte(c)
	case '\n':
		b.WriteString(`\n`)
	case '\t':
		b.WriteString(`\t`)
	case '\r':
		b.WriteString(`\r`)
	default:
		if c < 0x20 || c == 0x7f {
			fmt.Fprintf(b, `\x%02x`, c)
			return
		}
		b.WriteByte(c)
	}
}

// errNUL and friends explain why a value cannot be put in a unit. They never
// quote the value: it may be a secret.
var (
	errNUL     = errors.New("contains a NUL byte, which systemd cannot represent")
	errUTF8    = errors.New("is not valid UTF-8")
	errControl = errors.New("contains a control character other than tab or newline, which systemd rejects in environment values")
)

// checkText rejects what no escaping can carry. Environment values (env)
// are stricter: systemd drops assignments holding control characters other
// than tab and newline.
func checkText(s string, env bool) error {
	if !utf8.ValidString(s) {
		return errUTF8
	}
	for _, c := range []byte(s) {
		switch {
		case c == 0:
			return errNUL
		case env && (c < 0x20 && c != '\t' && c != '\n' || c == 0x7f):
			return errControl
		}
	}
	return nil
}

// isSafeWord reports whether s needs no quoting in ExecStart=. The set
// matches target.Quote's so logged commands and units read alike; % is safe
// because it is doubled (or kept as %i) before the word is written.
func isSafeWord(s string) bool {
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("@%_+=:,./-", r):
		default:
			return false
		}
	}
	return true
}

// Validation alphabets. Names reach unit file names, paths and remote
// commands, so they are held to what is safe in all three.
var (
	envName  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	unitWord = regexp.MustCompile(`^[A-Za-z0-9_.:-]+$`)
	userName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)
	safePath = regexp.MustCompile(`^/[A-Za-z0-9_./@+-]*$`)
	keyName  = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)
	// credName is what a credential may be called: a file name in
	// $CREDENTIALS_DIRECTORY, without the ":" LoadCredentialEncrypted=
	// separates it from its path with.
	credName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.@+-]*$`)
)

// checkPassThrough rejects a pass-through value that would break out of its
// line: a newline starts a new key, a trailing backslash continues the line.
func checkPassThrough(key, value string) error {
	if !keyName.MatchString(key) {
		return fmt.Errorf("systemd key %q is not a unit file key", key)
	}
	if strings.ContainsAny(value, "\r\n\x00") || strings.HasSuffix(value, `\`) {
		return fmt.Errorf("systemd key %s: value must be one line and not end in a backslash", key)
	}
	return nil
}

// formatDuration writes d in the largest systemd time unit that holds it
// exactly ("180s", "1500ms"), instead of Go's "3m0s" or "µs" spellings.
func formatDuration(d time.Duration) string {
	switch {
	case d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	case d%time.Millisecond == 0:
		return strconv.FormatInt(int64(d/time.Millisecond), 10) + "ms"
	default:
		return strconv.FormatInt(int64(d/time.Microsecond), 10) + "us"
	}
}
