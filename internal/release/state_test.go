package release

import (
	"reflect"
	"strings"
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

// TestParseGatherManifests pins the manifest blocks: each "m" line under
// a release's "manifest" line is a path and its SHA-256, lines sha256sum
// escapes (a backslash) and malformed ones are skipped, a block of an id
// that is not a release id is not recorded, "m" lines outside a block
// are ignored, and hosts reporting the same manifest share one copy.
func TestParseGatherManifests(t *testing.T) {
	sum := func(c byte) string { return strings.Repeat(string(c), 64) }
	out := "m " + sum('0') + "  stray\n" +
		"manifest r1\n" +
		"m " + sum('a') + "  bin/a\n" +
		"m \\" + sum('b')[1:] + "  odd\\nname\n" +
		"m short  bin/x\n" +
		"m\n" +
		"m " + sum('c') + "  config/c.yml\n" +
		"owned a.service\n" +
		"m " + sum('d') + "  after\n" +
		"manifest .hidden\n" +
		"m " + sum('e') + "  bin/e\n" +
		"manifest r2\n"
	one, err := ParseGather([]byte(out))
	require.NoError(t, err)
	require.Equal(t, map[string]Manifest{
		"r1": {"bin/a": sum('a'), "config/c.yml": sum('c')},
		"r2": {},
	}, one.Releases)
	require.Equal(t, []string{"a.service"}, one.Owned)

	two, err := ParseGather([]byte(out))
	require.NoError(t, err)
	require.Equal(t, one.Releases, two.Releases)
	require.Equal(t, reflect.ValueOf(one.Releases["r1"]).Pointer(), reflect.ValueOf(two.Releases["r1"]).Pointer(),
		"the same manifest on two hosts is one map")

	// Another line changes the manifest: its own copy.
	three, err := ParseGather([]byte(strings.Replace(out, "  bin/a\n", "  bin/a2\n", 1)))
	require.NoError(t, err)
	require.Equal(t, Manifest{"bin/a2": sum('a'), "config/c.yml": sum('c')}, three.Releases["r1"])
}
