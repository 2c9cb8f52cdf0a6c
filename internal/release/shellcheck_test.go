package release

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestScriptsPassShellcheck runs shellcheck over every on-host script. It
// is skipped where shellcheck is missing, and fails instead under
// OPENIM_REQUIRE_SHELLCHECK=1 (make test sets it, .ci/run installs it).
func TestScriptsPassShellcheck(t *testing.T) {
	bin, err := exec.LookPath("shellcheck")
	if err != nil {
		if os.Getenv("OPENIM_REQUIRE_SHELLCHECK") == "1" {
			t.Fatal("shellcheck is required (apt-get install shellcheck)")
		}
		t.Skip("shellcheck not installed")
	}
	scripts, err := filepath.Glob("scripts/*.sh")
	require.NoError(t, err)
	require.NotEmpty(t, scripts)
	out, err := exec.Command(bin, append([]string{"-s", "sh", "-S", "style"}, scripts...)...).CombinedOutput()
	require.NoError(t, err, "%s", out)
}
