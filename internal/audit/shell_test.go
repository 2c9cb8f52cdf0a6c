package audit

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// skipDir reports the directories the repository checks of on-host shell
// leave out: test data, the lab's tooling, and the test-support packages
// whose shell plays the host's part or drives the lab (not on-host
// scripts the tool sends).
func skipDir(name string) bool {
	switch name {
	case "testdata", ".git", "_output", "lab", "e2e", "targettest":
		return true
	}
	return false
}

// TestNoInlineShell fails when a non-test Go file holds a shell program in
// a multi-line string: every on-host script is an embedded file.
func TestNoInlineShell(t *testing.T) {
	root := moduleRoot(t)
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if skipDir(d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		found, err := InlineShell(path, src)
		if err != nil {
			return err
		}
		for _, f := range found {
			t.Error(f)
		}
		checked++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 20 {
		t.Fatalf("checked only %d files under %s", checked, root)
	}
}

// TestInlineShellDetects pins what the detector catches, so the check
// above cannot pass by detecting nothing.
func TestInlineShellDetects(t *testing.T) {
	for name, tc := range map[string]struct {
		src  string
		want int
	}{
		"script constant": {"package p\nconst s = `set -u\nmkdir -- \"$1\" || exit 1`", 1},
		"all arguments":   {"package p\nvar s = `systemctl reset-failed -- \"$@\"\nexec systemctl restart -- \"$@\"`", 1},
		"redirection":     {"package p\nvar s = `cat /proc/uptime\nreadlink x 2>/dev/null`", 1},
		"bare exit":       {"package p\nvar s = `a\n[ -d x ] || { echo no; exit 4; }`", 1},
		"one line":        {"package p\nconst s = `read -r n || exit 125; eval \"$1\"`", 0},
		"help text":       {"package p\nvar s = `status prints one table.\nThe exit code is 7 when any instance is unhealthy.\nUse $HOME/.ssh.`", 0},
		"quoted string":   {"package p\nconst s = \"sh -c 'exit 3'\\n$1\"", 0},
	} {
		t.Run(name, func(t *testing.T) {
			found, err := InlineShell("x.go", []byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			if len(found) != tc.want {
				t.Errorf("found %q, want %d finding(s)", found, tc.want)
			}
		})
	}
}

// shellcheckCall is how a package's test checks its scripts directory.
var shellcheckCall = regexp.MustCompile(`shellcheck\.Check\(t, "scripts/\*\.sh"`)

// TestEveryScriptIsEmbeddedAndShellchecked fails for a scripts/*.sh that
// no non-test file of its package embeds (a dead or copied script), and
// for a package with scripts whose tests do not shellcheck them.
func TestEveryScriptIsEmbeddedAndShellchecked(t *testing.T) {
	root := moduleRoot(t)
	dirs := 0
	err := filepath.WalkDir(filepath.Join(root, "internal"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if skipDir(d.Name()) {
			return filepath.SkipDir
		}
		if d.Name() != "scripts" {
			return nil
		}
		scripts, err := filepath.Glob(filepath.Join(path, "*.sh"))
		if err != nil || len(scripts) == 0 {
			return err
		}
		dirs++
		pkg := filepath.Dir(path)
		var code, tests strings.Builder
		gofiles, err := filepath.Glob(filepath.Join(pkg, "*.go"))
		if err != nil {
			return err
		}
		for _, f := range gofiles {
			b, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			if strings.HasSuffix(f, "_test.go") {
				tests.Write(b)
			} else {
				code.Write(b)
			}
		}
		rel, _ := filepath.Rel(root, pkg)
		if !shellcheckCall.MatchString(tests.String()) {
			t.Errorf("%s: no test calls shellcheck.Check(t, \"scripts/*.sh\", ...)", rel)
		}
		for _, s := range scripts {
			if !strings.Contains(code.String(), "//go:embed scripts/"+filepath.Base(s)+"\n") {
				t.Errorf("%s/scripts/%s: not embedded (//go:embed scripts/%s) by a non-test file of %s", rel, filepath.Base(s), filepath.Base(s), rel)
			}
		}
		return filepath.SkipDir
	})
	if err != nil {
		t.Fatal(err)
	}
	if dirs < 5 {
		t.Fatalf("found only %d scripts directories under %s/internal", dirs, root)
	}
}
