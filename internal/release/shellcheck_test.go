package release

import (
	"testing"

	"github.com/openimsdk/openim-deploy/internal/shellcheck"
)

// TestScriptsPassShellcheck runs shellcheck over every on-host script,
// and over the scripts as they are sent: after own.sh, which defines their
// "own", and after header.sh, which defines "header_app".
func TestScriptsPassShellcheck(t *testing.T) {
	shellcheck.Check(t, "scripts/*.sh", map[string]string{
		"own-prepare": ownScript + prepareScript,
		"own-switch":  ownScript + switchScript,
		"own-install": ownScript + withHeader(installScript),
		"gather":      withHeader(gatherScript),
		"uninstall":   withHeader(uninstallScript),
	})
}
