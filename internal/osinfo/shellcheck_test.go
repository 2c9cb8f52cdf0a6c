package osinfo

import (
	"testing"

	"github.com/openimsdk/openim-deploy/internal/target/targettest"
)

// TestScriptsPassShellcheck runs shellcheck over the detect script.
func TestScriptsPassShellcheck(t *testing.T) {
	targettest.Shellcheck(t, nil, map[string]string{"detect": detectScript})
}
