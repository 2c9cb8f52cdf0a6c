package lock

import (
	"testing"

	"github.com/openimsdk/openim-deploy/internal/shellcheck"
)

// TestScriptsPassShellcheck runs shellcheck over the lock's scripts, and
// over them as sent: after the prelude, which defines "now" and "show",
// and the acquire script with a rider.
func TestScriptsPassShellcheck(t *testing.T) {
	shellcheck.Check(t, "scripts/*.sh", map[string]string{"acquire": acquireScript, "refresh": refreshScript,
		"release": releaseScript, "break": breakScript, "read": readScript, "rider": withRider("true")})
}
