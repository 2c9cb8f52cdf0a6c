package osinfo

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestParseDetectGzip pins the gzip section: the path command -v printed,
// and "" when the host has none (an empty section) or the section is
// missing, which compressed uploads read as "send uncompressed".
func TestParseDetectGzip(t *testing.T) {
	for _, tt := range []struct{ out, want string }{
		{marker + "gzip\n/usr/bin/gzip\n" + marker + "end\n", "/usr/bin/gzip"},
		{marker + "gzip\n" + marker + "end\n", ""},
		{marker + "end\n", ""},
	} {
		f, err := ParseDetect([]byte(tt.out), "/", time.Time{}, time.Time{})
		require.NoError(t, err)
		require.Equal(t, tt.want, f.Gzip, tt.out)
		_, unknown := f.Unknown["gzip"]
		require.False(t, unknown, "a host without gzip is a fact, not an unknown")
	}
}
