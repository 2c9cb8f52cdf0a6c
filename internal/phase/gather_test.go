package phase

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// parseGather reads the release, file hashes and unit files, including a
// unit file without a trailing newline followed by another.
func TestParseGather(t *testing.T) {
	out := "release 20261126T051759Z\n::files\n" +
		"1111111111111111111111111111111111111111111111111111111111111111  ./bin/openim-api\n" +
		"2222222222222222222222222222222222222222222222222222222222222222  ./config/share.yml\n" +
		"\\3333  ./odd\\nname\n" +
		"::units\n" +
		"unit /etc/systemd/system/a@.service 5\nabcde" +
		"unit /etc/systemd/system/openim.target 4\nxyz\n"
	a, err := parseGather([]byte(out))
	require.NoError(t, err)
	require.Equal(t, "20261126T051759Z", a.Release)
	require.Equal(t, map[string]string{
		"bin/openim-api":   "1111111111111111111111111111111111111111111111111111111111111111",
		"config/share.yml": "2222222222222222222222222222222222222222222222222222222222222222",
	}, a.Files)
	require.Equal(t, "abcde", string(a.UnitFiles["a@.service"]))
	require.Equal(t, "xyz\n", string(a.UnitFiles["openim.target"]))
}

// A cold host prints no release and no files.
func TestParseGather_ColdHost(t *testing.T) {
	a, err := parseGather([]byte("::files\n::units\n"))
	require.NoError(t, err)
	require.Empty(t, a.Release)
	require.Empty(t, a.Files)
	require.Empty(t, a.UnitFiles)
}

// A truncated unit body is an error, not a silently short unit.
func TestParseGather_Truncated(t *testing.T) {
	_, err := parseGather([]byte("::files\n::units\nunit /etc/systemd/system/a.service 50\nshort\n"))
	require.Error(t, err)
}
