package osinfo

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestScriptsPassShellcheck runs shellcheck over the on-host scripts kept
// in Go constants. It is skipped where shellcheck is missing, and fails
// instead under OPENIM_REQUIRE_SHELLCHECK=1 (make test sets it).
func TestScriptsPassShellcheck(t *testing.T) {
	bin, err := exec.LookPath("shellcheck")
	if err != nil {
		if os.Getenv("OPENIM_REQUIRE_SHELLCHECK") == "1" {
			t.Fatal("shellcheck is required (apt-get install shellcheck)")
		}
		t.Skip("shellcheck not installed")
	}
	dir := t.TempDir()
	var files []string
	for name, script := range map[string]string{"detect": detectScript} {
		f := filepath.Join(dir, name+".sh")
		if err := os.WriteFile(f, []byte(script), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	if out, err := exec.Command(bin, append([]string{"-s", "sh", "-S", "style"}, files...)...).CombinedOutput(); err != nil {
		t.Fatalf("shellcheck: %v\n%s", err, out)
	}
}
