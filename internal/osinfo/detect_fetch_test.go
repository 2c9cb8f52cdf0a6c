package osinfo

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/target/local"
)

// TestParseDetectFetchers pins the curl and wget sections: the path
// command -v printed, and "" when the host has none (an empty section)
// or the section is missing, which pre-flight reads as "cannot fetch an
// artifact", never as an unknown fact.
func TestParseDetectFetchers(t *testing.T) {
	for _, tt := range []struct{ out, curl, wget string }{
		{marker + "curl\n/usr/bin/curl\n" + marker + "wget\n/usr/bin/wget\n" + marker + "end\n", "/usr/bin/curl", "/usr/bin/wget"},
		{marker + "curl\n" + marker + "wget\n/bin/wget\n" + marker + "end\n", "", "/bin/wget"},
		{marker + "curl\n/usr/local/bin/curl\n" + marker + "wget\n" + marker + "end\n", "/usr/local/bin/curl", ""},
		{marker + "end\n", "", ""},
	} {
		f, err := ParseDetect([]byte(tt.out), "/", time.Time{}, time.Time{})
		require.NoError(t, err)
		require.Equal(t, tt.curl, f.Curl, tt.out)
		require.Equal(t, tt.wget, f.Wget, tt.out)
		for _, s := range []string{"curl", "wget"} {
			_, unknown := f.Unknown[s]
			require.False(t, unknown, "a host without %s is a fact, not an unknown", s)
		}
	}
}

// TestDetectFindsFetchersOnPath runs the detect script in a real sh with
// a PATH holding the tools it and the command wrapper use, and a fake
// curl, then a fake wget instead: it reports exactly what the PATH has.
func TestDetectFindsFetchersOnPath(t *testing.T) {
	tools := map[string]string{}
	for _, name := range []string{"sh", "head", "cat", "uname", "id", "awk", "df", "date", "readlink"} {
		if p, err := exec.LookPath(name); err == nil {
			tools[name] = p
		}
	}
	for _, tool := range []string{"curl", "wget"} {
		bin := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(bin, tool), []byte("#!/bin/sh\nexit 0\n"), 0o755))
		for name, p := range tools {
			require.NoError(t, os.Symlink(p, filepath.Join(bin, name)))
		}
		t.Setenv("PATH", bin+":/nonexistent")
		f, err := DetectWith(context.Background(), local.New("im-1", ""), Options{DiskPath: t.TempDir()})
		require.NoError(t, err)
		want := map[string]string{"curl": "", "wget": ""}
		want[tool] = filepath.Join(bin, tool)
		require.Equal(t, want, map[string]string{"curl": f.Curl, "wget": f.Wget})
	}
}
