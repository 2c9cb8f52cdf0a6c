package remote

import (
	"strings"
	"testing"

	"github.com/openimsdk/openim-deploy/internal/shellcheck"
)

// TestScriptsPassShellcheck runs shellcheck over the probe relay, and over
// the bash program inside it as bash: sh sees it as one quoted word.
func TestScriptsPassShellcheck(t *testing.T) {
	_, rest, ok := strings.Cut(relayScript, "\nexec bash -c '\n")
	inner, _, ok2 := strings.Cut(rest, "\n' relay ")
	if !ok || !ok2 {
		t.Fatal("scripts/relay.sh: no \"exec bash -c '...' relay\" program found")
	}
	shellcheck.Check(t, "scripts/*.sh", map[string]string{"relay-inner.bash": inner + "\n"})
}
