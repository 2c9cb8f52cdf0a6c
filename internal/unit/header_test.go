package unit

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestParseHeader: the tool's header names its app; a header from before
// apps were named names none; anything else, look-alikes included, is not
// the tool's.
func TestParseHeader(t *testing.T) {
	for _, tc := range []struct {
		line string
		app  string
		ok   bool
	}{
		{strings.TrimSuffix(Header("openim"), "\n"), "openim", true},
		{"# Managed by openim-deploy (app=a.b_c-d)", "a.b_c-d", true},
		{"# Managed by openim-deploy: changes here are overwritten by the next apply.", "", true},
		{"# Managed by openim-deploy (app=openim", "", false},
		{"# Managed by openim-deploy (app=): x", "", false},
		{"# Managed by openim-deploy (app=-x)", "", false},
		{"# Managed by openim-deploy (app=a b)", "", false},
		{"# Managed by openim-deploy. Secret values: keep this file 0600 root.", "", false},
		{"[Unit]", "", false},
		{"", "", false},
	} {
		app, ok := ParseHeader(tc.line)
		require.Equal(t, tc.ok, ok, "%q", tc.line)
		require.Equal(t, tc.app, app, "%q", tc.line)
	}
}

// FuzzParseHeader: ParseHeader never panics; an app it reads is a valid
// app name; the header written for that app reads back as the same app;
// and a line it accepts stays accepted (with the same app) whatever
// follows it.
func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{
		strings.TrimSuffix(Header("openim"), "\n"),
		"# Managed by openim-deploy: x",
		"# Managed by openim-deploy (app=a",
		"# Managed by openim-deploy (app=a)",
		"[Unit]",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		app, ok := ParseHeader(line)
		if !ok {
			require.Empty(t, app)
			return
		}
		if app != "" {
			require.True(t, alnum(app[0]), "app %q", app)
			for i := range len(app) {
				require.True(t, appNameByte(app[i]), "app %q", app)
			}
			back, ok := ParseHeader(strings.TrimSuffix(Header(app), "\n"))
			require.True(t, ok)
			require.Equal(t, app, back)
		}
		more, ok := ParseHeader(line + "tail")
		require.True(t, ok)
		require.Equal(t, app, more)
	})
}
