package target

import (
	"testing"

	"github.com/openimsdk/openim-deploy/internal/shellcheck"
)

// TestScriptsPassShellcheck runs shellcheck over the transport's on-host
// scripts, and over the shell it writes in Go: the one-line wrapper every
// "sh -c" command runs under (it is the command line itself, so it cannot
// carry a header), and a program made by Compose.
func TestScriptsPassShellcheck(t *testing.T) {
	composed, _ := Compose(Part{Script: `echo "$1"`, Args: []string{"a"}}, Part{Script: `echo "$@"`, Args: []string{"b", "c"}})
	shellcheck.Check(t, "scripts/*.sh", map[string]string{"wrapper": ScriptWrapper, "composed": composed})
}
