package release

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestParseGatherSizes pins the file block: wc's sizes (with its total
// line when several files are read) and then the files' bytes back to
// back, the last of which need not end in a newline.
func TestParseGatherSizes(t *testing.T) {
	out := "current r1\nsizes\n  4 a.service\n 12 b@0.service.d/release.conf\n 16 total\nendsizes\n" +
		"a\nb\n" + "no newline e"
	st, err := ParseGather([]byte(out))
	require.NoError(t, err)
	require.Equal(t, "a\nb\n", string(st.Files["a.service"]))
	require.Equal(t, "no newline e", string(st.Files["b@0.service.d/release.conf"]))

	one := "sizes\n3 a.service\nendsizes\nabcshow\nId=a.service\n\nendshow\n"
	st, err = ParseGather([]byte(one))
	require.NoError(t, err)
	require.Equal(t, "abc", string(st.Files["a.service"]))
	require.Len(t, st.Units, 1)

	_, err = ParseGather([]byte("sizes\n9 a.service\nendsizes\nshort"))
	require.ErrorContains(t, err, "bad file size")
}
