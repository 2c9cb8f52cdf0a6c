package release

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/target/targettest"
)

// TestScriptsPassShellcheck runs shellcheck over every on-host script,
// and over the scripts as they are sent: after own.sh, which defines their
// "own", and after header.sh, which defines "header_app".
func TestScriptsPassShellcheck(t *testing.T) {
	scripts, err := filepath.Glob("scripts/*.sh")
	require.NoError(t, err)
	require.NotEmpty(t, scripts)
	targettest.Shellcheck(t, scripts, map[string]string{
		"own-prepare": ownScript + prepareScript,
		"own-switch":  ownScript + switchScript,
		"own-install": ownScript + withHeader(installScript),
		"gather":      withHeader(gatherScript),
		"uninstall":   withHeader(uninstallScript),
	})
}
