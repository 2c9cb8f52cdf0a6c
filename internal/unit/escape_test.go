package unit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// The decoders below model how systemd 252 reads the values this package
// writes (src/basic/extract-word.c, src/shared/specifier.c,
// src/basic/env-util.c). They are strict: anything the escaper should never
// produce (an unknown specifier, a bare $, an unknown backslash escape, a
// lone ;) is an error, so a round trip proves the escaping, not just the
// absence of a crash.

// splitWords splits a line into words as extract_first_word does with
// EXTRACT_UNQUOTE|EXTRACT_CUNESCAPE.
func splitWords(line string) ([]string, error) {
	var words []string
	for i := 0; ; {
		for i < len(line) && strings.IndexByte(" \t", line[i]) >= 0 {
			i++
		}
		if i == len(line) {
			return words, nil
		}
		if line[i] == ';' && (i+1 == len(line) || line[i+1] == ' ') {
			return nil, errors.New("lone ; separates commands")
		}
		var w strings.Builder
		quoted := false
		for ; i < len(line) && (quoted || line[i] != ' ' && line[i] != '\t'); i++ {
			switch c := line[i]; {
			case c == '"':
				quoted = !quoted
			case c == '\\':
				if i+1 == len(line) {
					return nil, errors.New("trailing backslash")
				}
				i++
				n, err := cunescape(line[i:], &w)
				if err != nil {
					return nil, err
				}
				i += n - 1
			default:
				w.WriteByte(c)
			}
		}
		if quoted {
			return nil, errors.New("unterminated quote")
		}
		words = append(words, w.String())
	}
}

// cunescape decodes the escape at the start of s (after the backslash) and
// returns how many bytes it used.
func cunescape(s string, w *strings.Builder) (int, error) {
	switch s[0] {
	case '\\', '"', '\'':
		w.WriteByte(s[0])
	case 'n':
		w.WriteByte('\n')
	case 't':
		w.WriteByte('\t')
	case 'r':
		w.WriteByte('\r')
	case 'x':
		if len(s) < 3 {
			return 0, errors.New("short \\x")
		}
		v, err := strconv.ParseUint(s[1:3], 16, 8)
		if err != nil || v == 0 {
			return 0, fmt.Errorf("bad \\x%s", s[1:3])
		}
		w.WriteByte(byte(v))
		return 3, nil
	default:
		return 0, fmt.Errorf("unknown escape \\%c", s[0])
	}
	return 1, nil
}

// expandSpecifiers expands %% and %i, as unit_full_printf does for a template instance.
func expandSpecifiers(s, instance string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) {
			return "", errors.New("trailing %")
		}
		i++
		switch s[i] {
		case '%':
			b.WriteByte('%')
		case 'i':
			b.WriteString(instance)
		default:
			return "", fmt.Errorf("specifier %%%c", s[i])
		}
	}
	return b.String(), nil
}

// expandEnv applies exec-time variable expansion, allowing only $$.
func expandEnv(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) || s[i+1] != '$' {
			return "", errors.New("unescaped $ would be expanded")
		}
		b.WriteByte('$')
		i++
	}
	return b.String(), nil
}

// decodeExec returns the argv systemd passes for an ExecStart= line.
func decodeExec(line, instance string) ([]string, error) {
	words, err := splitWords(line)
	if err != nil {
		return nil, err
	}
	for i, w := range words {
		if w, err = expandSpecifiers(w, instance); err == nil {
			w, err = expandEnv(w)
		}
		if err != nil {
			return nil, fmt.Errorf("word %d %q: %w", i, words[i], err)
		}
		words[i] = w
	}
	return words, nil
}

// withInstance is what the playbook means by arg: each %i (left to right)
// is the instance name, every other % is literal.
func withInstance(arg, instance string) string {
	var b strings.Builder
	for i := 0; i < len(arg); i++ {
		if arg[i] == '%' && i+1 < len(arg) && arg[i+1] == 'i' {
			b.WriteString(instance)
			i++
			continue
		}
		b.WriteByte(arg[i])
	}
	return b.String()
}

// TestExecWord pins the exact escaping of ExecStart= arguments.
func TestExecWord(t *testing.T) {
	tests := []struct{ in, want, wantTask string }{
		{"-c", "-c", "-c"},
		{"%i", "%i", "%%i"},
		{"100%", "100%%", "100%%"},
		{"%%i", "%%%i", "%%%%i"},
		{"%n", "%%n", "%%n"},
		{"", `""`, `""`},
		{"a b", `"a b"`, `"a b"`},
		{`say "hi"`, `"say \"hi\""`, `"say \"hi\""`},
		{`back\slash`, `"back\\slash"`, `"back\\slash"`},
		{"$HOME", `"$$HOME"`, `"$$HOME"`},
		{"${X}", `"$${X}"`, `"$${X}"`},
		{";", `";"`, `";"`},
		{"it's", `"it's"`, `"it's"`},
		{"a\tb\nc\x01", `"a\tb\nc\x01"`, `"a\tb\nc\x01"`},
		{"ü", `"ü"`, `"ü"`},
	}
	for _, tc := range tests {
		got, err := execWord(tc.in, true)
		require.NoError(t, err)
		require.Equal(t, tc.want, got, "service %q", tc.in)
		got, err = execWord(tc.in, false)
		require.NoError(t, err)
		require.Equal(t, tc.wantTask, got, "task %q", tc.in)
	}
	for _, bad := range []string{"a\x00", "\xff"} {
		_, err := execWord(bad, true)
		require.Error(t, err, "%q", bad)
	}
}

// FuzzExecWord checks that any argument systemd can carry reaches the
// process unchanged (with %i as the instance), through the systemd model.
func FuzzExecWord(f *testing.F) {
	for _, s := range []string{"", "%i", "%%i", "a b", `"\`, "$$", "${A}", ";", "\t\n", "%", "100%i%"} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, arg string, instance bool) {
		line, err := execLine("/opt/x/bin/x", []string{"-a", arg, "tail"}, instance)
		if err != nil {
			require.True(t, !utf8.ValidString(arg) || strings.Contains(arg, "\x00"), "refused %q: %v", arg, err)
			return
		}
		want := arg
		if instance {
			want = withInstance(arg, "ws-1")
		}
		got, err := decodeExec(line, "ws-1")
		require.NoError(t, err, "line %q", line)
		require.Equal(t, []string{"/opt/x/bin/x", "-a", want, "tail"}, got, "line %q", line)
	})
}

// decodeEnvironment models config_parse_environ: specifiers on the whole
// value, then quoted words; there is no $ expansion.
func decodeEnvironment(v string) ([]string, error) {
	s, err := expandSpecifiers(v, "")
	if err != nil {
		return nil, err
	}
	return splitWords(s)
}

// FuzzEnvAssignment checks that Environment= values survive systemd's
// parsing as one KEY=value word, % and $ included.
func FuzzEnvAssignment(f *testing.F) {
	for _, s := range []string{"", "100%", "$HOME", `a "b" \c`, "x\ny\tz", " lead"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		a, err := envAssignment("K", v)
		if err != nil {
			require.Error(t, checkText(v, true))
			return
		}
		got, err := decodeEnvironment(a)
		require.NoError(t, err, "%q", a)
		require.Equal(t, []string{"K=" + v}, got, "%q", a)
	})
}

// TestFormatDuration pins systemd spellings of playbook durations.
func TestFormatDuration(t *testing.T) {
	require.Equal(t, "180s", formatDuration(3*time.Minute))
	require.Equal(t, "1500ms", formatDuration(1500*time.Millisecond))
	require.Equal(t, "1us", formatDuration(time.Microsecond))
}
