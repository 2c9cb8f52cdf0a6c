package target

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mvdan.cc/sh/v3/syntax"
)

// TestStripCommentsKeepsThePrograms strips every on-host script of the
// project (internal/**/scripts/*.sh) and requires, from a real POSIX
// shell parser, the same program as the original, line for line: only
// comments went, and with them no code, quote or here-document line.
func TestStripCommentsKeepsThePrograms(t *testing.T) {
	var scripts []string
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".sh") && filepath.Base(filepath.Dir(path)) == "scripts" {
			scripts = append(scripts, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(scripts) < 20 {
		t.Fatalf("found %d scripts, want the project's (at least 20)", len(scripts))
	}
	var before, after int
	for _, path := range scripts {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		out := StripComments(string(src))
		if strings.Count(out, "\n") != strings.Count(string(src), "\n") {
			t.Errorf("%s: %d lines stripped, %d before: line numbers moved", path, strings.Count(out, "\n"), strings.Count(string(src), "\n"))
		}
		if want, got := program(t, path, string(src)), program(t, path, out); want != got {
			t.Errorf("%s: the stripped script is another program:\n%s\nwant:\n%s", path, got, want)
		}
		before, after = before+len(src), after+len(out)
	}
	t.Logf("%d scripts: %d bytes, %d without their comments", len(scripts), before, after)
	if after > before*3/4 {
		t.Errorf("stripping kept %d of %d bytes", after, before)
	}
}

// program is script parsed as POSIX sh and printed without comments, each
// statement at its line.
func program(t *testing.T, name, script string) string {
	t.Helper()
	f, err := syntax.NewParser(syntax.Variant(syntax.LangPOSIX)).Parse(strings.NewReader(script), name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var b bytes.Buffer
	if err := syntax.NewPrinter().Print(&b, f); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestStripComments(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"#!/bin/sh\n# shellcheck shell=sh\n# gather.sh ROOT APP\n#   more\necho a # kept\n", "#!/bin/sh\n\n# gather.sh ROOT APP\n\necho a # kept\n"},
		{"\t# indented\nx=1\n", "\nx=1\n"},
		{"a='\n# in quotes\n'\n# out\n", "a='\n# in quotes\n'\n\n"},
		{"a=\"\n# in quotes\"\n# out\n", "a=\"\n# in quotes\"\n\n"},
		{"cat <<EOF\n# data\nEOF\n# out\n", "cat <<EOF\n# data\nEOF\n\n"},
		{"cat <<-'E O'\n\t# data\n\tE O\n# out\n", "cat <<-'E O'\n\t# data\n\tE O\n\n"},
		{"echo a \\\n# joined\n# out\n", "echo a \\\n# joined\n\n"},
		{"echo ${#x} $# # c\n# out\n", "echo ${#x} $# # c\n\n"},
		{"echo \"it's\" # it's\n# out\n", "echo \"it's\" # it's\n\n"},
		{"echo '\n# never closed\n", "echo '\n# never closed\n"},     // unbalanced: unchanged
		{"cat <<EOF\n# never ended\n", "cat <<EOF\n# never ended\n"}, // open here-document: unchanged
	} {
		if got := stripComments(c.in); got != c.want {
			t.Errorf("stripComments(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
