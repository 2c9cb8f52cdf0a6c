package targettest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Shellcheck runs shellcheck (POSIX sh, style level) over files and over
// scripts kept in Go constants (name -> text, written to a temp dir). It
// skips the test where shellcheck is missing, and fails instead under
// OPENIM_REQUIRE_SHELLCHECK=1 (make test sets it, .ci/run installs it).
func Shellcheck(t testing.TB, files []string, scripts map[string]string) {
	t.Helper()
	bin, err := exec.LookPath("shellcheck")
	if err != nil {
		if os.Getenv("OPENIM_REQUIRE_SHELLCHECK") == "1" {
			t.Fatal("shellcheck is required (apt-get install shellcheck)")
		}
		t.Skip("shellcheck not installed")
	}
	dir := t.TempDir()
	for name, script := range scripts {
		f := filepath.Join(dir, name+".sh")
		if err := os.WriteFile(f, []byte(script), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		t.Fatal("no scripts to check")
	}
	if out, err := exec.Command(bin, append([]string{"-s", "sh", "-S", "style"}, files...)...).CombinedOutput(); err != nil {
		t.Fatalf("shellcheck: %v\n%s", err, out)
	}
}
