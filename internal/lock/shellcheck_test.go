package lock

import (
	"testing"

	"github.com/openimsdk/openim-deploy/internal/target/targettest"
)

// TestScriptsPassShellcheck runs shellcheck over the lock's scripts.
func TestScriptsPassShellcheck(t *testing.T) {
	targettest.Shellcheck(t, nil, map[string]string{"acquire": acquireScript, "refresh": refreshScript,
		"release": releaseScript, "break": breakScript, "read": readScript, "rider": withRider("true")})
}
