package selector

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func fleet() []Host {
	return []Host{
		{Name: "im-1", Groups: []string{"app", "rpc"}},
		{Name: "im-2", Groups: []string{"app", "rpc"}},
		{Name: "im-3", Groups: []string{"app"}},
		{Name: "db-1", Groups: []string{"data"}},
		{Name: "edge-1", Groups: []string{"edge", "app"}},
	}
}

func names(hs []Host) string {
	var n []string
	for _, h := range hs {
		n = append(n, h.Name)
	}
	return strings.Join(n, ",")
}

// TestSelect pins the pattern language --limit speaks: every form, and
// inventory order of the result whatever the order of the terms.
func TestSelect(t *testing.T) {
	for _, tc := range []struct{ pattern, want string }{
		{"im-1", "im-1"},
		{"im-2,im-1", "im-1,im-2"},
		{"app", "im-1,im-2,im-3,edge-1"},
		{"all", "im-1,im-2,im-3,db-1,edge-1"},
		{"*", "im-1,im-2,im-3,db-1,edge-1"},
		{"im-*", "im-1,im-2,im-3"},
		{"im-?,db-1", "im-1,im-2,im-3,db-1"},
		{"r*", "im-1,im-2"}, // globs match group names too
		{"app[0]", "im-1"},
		{"app[-1]", "edge-1"},
		{"app[1:2]", "im-2,im-3"},
		{"app[2:]", "im-3,edge-1"},
		{"app[:1]", "im-1,im-2"},
		{"app[1:99]", "im-2,im-3,edge-1"},
		{"app,!im-3", "im-1,im-2,edge-1"},
		{"!app", "db-1"},
		{"all,!rpc,!data", "im-3,edge-1"},
		{"app,&rpc", "im-1,im-2"},
		{"app,&rpc,!im-1", "im-2"},
		{" im-1 , im-3 ", "im-1,im-3"},
		{"im-1,im-1,app[0]", "im-1"},
		{"im-*[1]", "im-2"},
	} {
		t.Run(tc.pattern, func(t *testing.T) {
			got, err := Select(fleet(), tc.pattern)
			require.NoError(t, err)
			require.Equal(t, tc.want, names(got))
		})
	}
}

// TestSelect_Errors pins that a typo fails loudly instead of selecting
// nothing or everything, and that the message names the bad term.
func TestSelect_Errors(t *testing.T) {
	for _, tc := range []struct{ pattern, msg string }{
		{"", "is empty"},
		{" , ", "is empty"},
		{"im-9", `"im-9" matches no host`},
		{"app,!nosuch", `"!nosuch" matches no host`},
		{"app[7]", `"app[7]" matches no host`},
		{"app[x]", "not a number"},
		{"app[2:1]", "runs backwards"},
		{"app[-2:]", "no negative bounds"},
		{"app[]", "empty subscript"},
		{"app[1", "ends with ]"},
		{"[1]", "names no host or group"},
		{"!", "names no host or group"},
		{"a!b", "only start a term"},
		{"app[0]x]", "not a number"},
		{"app,!app", `"app,!app" leaves no host`},
	} {
		t.Run(tc.pattern, func(t *testing.T) {
			_, err := Select(fleet(), tc.pattern)
			require.ErrorContains(t, err, tc.msg)
		})
	}
	_, err := Select(fleet(), "app[x]")
	require.True(t, errors.Is(err, ErrSyntax))
}

// FuzzSelect checks that no pattern panics and that whatever comes out is
// a subset of the fleet in inventory order without duplicates.
func FuzzSelect(f *testing.F) {
	for _, s := range []string{"im-1", "app[1:2],!im-2", "&rpc", "*[-1]", "app[:]", "a[-9999999999999999999]"} {
		f.Add(s)
	}
	hosts := fleet()
	f.Fuzz(func(t *testing.T, pattern string) {
		got, err := Select(hosts, pattern)
		if err != nil {
			require.Empty(t, got)
			return
		}
		require.NotEmpty(t, got)
		last := -1
		for _, h := range got {
			i := slices.IndexFunc(hosts, func(x Host) bool { return x.Name == h.Name })
			require.Greater(t, i, last, "not in inventory order or duplicated: %s", names(got))
			last = i
		}
	})
}
