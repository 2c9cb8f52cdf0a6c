package cli

import (
	"testing"

	"github.com/openimsdk/openim-deploy/internal/shellcheck"
)

// TestScriptsPassShellcheck runs shellcheck over the scripts the CLI runs
// on hosts itself (status's process.sh).
func TestScriptsPassShellcheck(t *testing.T) {
	shellcheck.Check(t, "scripts/*.sh", nil)
}
