package targettest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/openimsdk/openim-deploy/internal/target"
)

func TestSplitWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"echo hi", []string{"echo", "hi"}},
		{`a 'b c' "d e" f\ g ''`, []string{"a", "b c", "d e", "f g", ""}},
		{`'it'\''s'`, []string{"it's"}},
		{`"a\"b\\c"`, []string{`a"b\c`}},
		{"x\\\ny", []string{"xy"}},
	}
	for _, tt := range tests {
		got, err := SplitWords(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("SplitWords(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"a;b", "a | b", "$(x)", "`x`", "'open", `"open`, `a\`, "a > b", `"$HOME"`} {
		if _, err := SplitWords(bad); err == nil {
			t.Errorf("SplitWords(%q) accepted unsupported syntax", bad)
		}
	}
}

func FuzzSplitWordsInvertsQuote(f *testing.F) {
	f.Add("echo", "a b", "it's")
	f.Add("", "$x", "\n")
	f.Add(">&2", ";", "'\"\\")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		args := []string{a, b, c}
		got, err := SplitWords(target.QuoteArgs(args))
		if err != nil || !reflect.DeepEqual(got, args) {
			t.Fatalf("SplitWords(QuoteArgs(%q)) = %q, %v", args, got, err)
		}
	})
}

func TestShell(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "f"), []byte("content"), 0o644); err != nil {
		t.Fatal(err)
	}
	sh := newShell(root, map[string]Interpreter{})
	ctx := context.Background()
	tests := []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{[]string{"cat", "--", "/f"}, 0, "content", ""},
		{[]string{"cat", "/nope"}, 1, "", "cat: /nope: No such file or directory\n"},
		{[]string{"sha256sum", "--", "/f"}, 0, "ed7002b439e9ac845f22357d822bac1444730fbdb6016d3ec9432297b9ec9f73  /f\n", ""},
		{[]string{"sh", "-c", "echo a; echo b >&2; exit 7; echo c"}, 7, "a\n", "b\n"},
		{[]string{"sh", "-c", "false"}, 1, "", ""},
		{[]string{"printf", `%s-%s\n`, "a", "b", "c"}, 0, "a-b\nc-\n", ""},
		{[]string{"env", "A=1", "printenv", "A"}, 0, "1\n", ""},
		{[]string{"sudo", "-n", "--", "echo", "x"}, 0, "x\n", ""},
		{[]string{"nope"}, 127, "", "sh: 1: nope: not found\n"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		code := sh.run(ctx, tt.args, strings.NewReader(""), &out, &errb)
		if code != tt.code || out.String() != tt.stdout || errb.String() != tt.stderr {
			t.Errorf("%q: code %d stdout %q stderr %q; want %d %q %q", tt.args, code, out.String(), errb.String(), tt.code, tt.stdout, tt.stderr)
		}
	}
}
