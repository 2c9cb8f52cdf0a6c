package release

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/layout"
)

// TestScriptsTakeSystemPathsFromLayout pins that no release script names
// a system path of its own: the unit directory, the tool's state directory
// and the directories systemd loads units from arrive as arguments, from
// internal/layout (phase's releaseHost), so a test can point them at a
// temp directory and the host's layout is named in one place. Comments may
// name them, as examples.
func TestScriptsTakeSystemPathsFromLayout(t *testing.T) {
	scripts, err := filepath.Glob("scripts/*.sh")
	require.NoError(t, err)
	require.NotEmpty(t, scripts)
	paths := append([]string{layout.UnitDir, layout.StateDir, "/etc/systemd", "/var/lib/openim-deploy"}, layout.VendorUnitDirs()...)
	for _, f := range scripts {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for i, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			for _, p := range paths {
				require.NotContains(t, line, p, "%s:%d hard-codes %s: pass it as an argument from internal/layout", f, i+1, p)
			}
		}
	}
}
