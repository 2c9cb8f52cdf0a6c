package release

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/target/targettest"
)

// TestScriptsPassShellcheck runs shellcheck over every on-host script,
// and over the scripts as sent after own.sh, which defines their "own".
func TestScriptsPassShellcheck(t *testing.T) {
	scripts, err := filepath.Glob("scripts/*.sh")
	require.NoError(t, err)
	require.NotEmpty(t, scripts)
	targettest.Shellcheck(t, scripts, map[string]string{
		"own-prepare": ownScript + prepareScript,
		"own-switch":  ownScript + switchScript,
		"own-install": ownScript + installScript,
	})
}
