// Package shellcheck checks the scripts openim-deploy runs on hosts, from
// the tests of the package that owns them. Every on-host script is an
// embedded file (scripts/*.sh beside the Go that sends it), so one call
// per package checks them all:
//
//	func TestScriptsPassShellcheck(t *testing.T) {
//		shellcheck.Check(t, "scripts/*.sh", nil)
//	}
//
// A script that is sent composed (another script prepended, as release's
// own.sh and header.sh are, or the lock's prelude) is checked as sent too,
// named in the map: shellcheck then sees the functions and variables the
// prepended part defines.
package shellcheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Check runs shellcheck over the files matching glob and over sent (name
// -> script text, as the package sends it). It fails when glob matches
// nothing, so a moved directory is not a silent pass. See Run.
func Check(t testing.TB, glob string, sent map[string]string) {
	t.Helper()
	files, err := filepath.Glob(glob)
	if err != nil {
		t.Fatalf("shellcheck: %v", err)
	}
	if len(files) == 0 {
		t.Fatalf("shellcheck: no scripts match %s", glob)
	}
	Run(t, files, sent)
}

// Run runs shellcheck (style level) over files and over scripts (name ->
// text, written to a temp directory). A file or name ending in ".bash" is
// checked as bash, every other as POSIX sh. It skips the test where
// shellcheck is missing, and fails instead under
// OPENIM_REQUIRE_SHELLCHECK=1 (make test sets it, scripts/deps.sh installs
// shellcheck).
func Run(t testing.TB, files []string, scripts map[string]string) {
	t.Helper()
	bin, err := exec.LookPath("shellcheck")
	if err != nil {
		if os.Getenv("OPENIM_REQUIRE_SHELLCHECK") == "1" {
			t.Fatal("shellcheck is required (apt-get install shellcheck)")
		}
		t.Skip("shellcheck not installed")
	}
	dir := t.TempDir()
	files = append([]string(nil), files...)
	for name, script := range scripts {
		if !strings.HasSuffix(name, ".bash") {
			name += ".sh"
		}
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, []byte(script), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		t.Fatal("shellcheck: no scripts to check")
	}
	byDialect := map[string][]string{}
	for _, f := range files {
		dialect := "sh"
		if strings.HasSuffix(f, ".bash") {
			dialect = "bash"
		}
		byDialect[dialect] = append(byDialect[dialect], f)
	}
	for _, dialect := range []string{"sh", "bash"} {
		if len(byDialect[dialect]) == 0 {
			continue
		}
		args := append([]string{"-s", dialect, "-S", "style"}, byDialect[dialect]...)
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			t.Fatalf("shellcheck (%s): %v\n%s", dialect, err, out)
		}
	}
}
