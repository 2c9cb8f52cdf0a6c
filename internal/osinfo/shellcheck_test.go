package osinfo

import (
	"strings"
	"testing"

	"github.com/openimsdk/openim-deploy/internal/shellcheck"
)

// TestScriptsPassShellcheck runs shellcheck over the detect script.
func TestScriptsPassShellcheck(t *testing.T) {
	shellcheck.Check(t, "scripts/*.sh", nil)
}

// TestDetectScriptUsesTheMarker pins that the script starts its sections
// with the marker ParseDetect splits on: the two live in different files.
func TestDetectScriptUsesTheMarker(t *testing.T) {
	if !strings.Contains(detectScript, "\nm='"+marker+"'\n") {
		t.Fatalf("scripts/detect.sh does not set m to %q", marker)
	}
}
