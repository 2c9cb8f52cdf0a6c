package plan

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/release"
)

// The plan spells the drop-in path itself; it must be the path apply
// writes and gather reads.
func TestDropInPath_MatchesRelease(t *testing.T) {
	for _, unit := range []string{"openim-push@3.service", "check.service"} {
		require.Equal(t, release.DropInPath(unit), dropInPath(unit))
	}
}
