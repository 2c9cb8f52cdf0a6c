package lock

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAcquire_LeaseIsPrivate pins the modes of what the acquire script
// creates: the state directory (made when missing) and the lease
// directory 0700, its files 0600, so no other user of the host reads who
// runs what, whatever the caller's umask.
func TestAcquire_LeaseIsPrivate(t *testing.T) {
	p := lockPath(t)
	l, err := Acquire(t.Context(), &shTarget{}, p, CurrentHolder("apply"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]fs.FileMode{
		filepath.Dir(p):             0o700,
		p:                           0o700,
		filepath.Join(p, "id"):      0o600,
		filepath.Join(p, "expires"): 0o600,
		filepath.Join(p, "info"):    0o600,
	}
	for path, mode := range want {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != mode {
			t.Errorf("%s: mode %#o, want %#o", path, got, mode)
		}
	}
	if info := readFile(t, filepath.Join(p, "info")); !strings.Contains(info, `"command":"apply"`) {
		t.Errorf("info = %s, want command apply", info)
	}
	_ = l.Release(t.Context())
}

// TestParseShow_HidesAnOldCommandLine pins that a lease written by an
// older version, which recorded the first non-flag argument (a -var
// value when flags came first), is shown without it: in "locked by" and
// in unlock's report.
func TestParseShow_HidesAnOldCommandLine(t *testing.T) {
	for cmd, want := range map[string]string{
		"openim-deploy pw=S3cret": "",
		"openim-deploy S3CRET":    "",
		"openim-deploy apply":     "openim-deploy apply",
		"apply":                   "apply",
		"releases list":           "releases list",
	} {
		out := "100\n130\n{\"id\":\"x\",\"user\":\"ops\",\"host\":\"laptop\",\"pid\":1,\"command\":\"" + cmd + "\",\"acquired\":100,\"expires\":130}\n"
		info, err := parseShow([]byte(out))
		if err != nil {
			t.Fatal(err)
		}
		if info.Command != want {
			t.Errorf("command %q shown as %q, want %q", cmd, info.Command, want)
		}
		if strings.Contains(info.String(), "S3") {
			t.Errorf("%q: %s", cmd, info.String())
		}
		if want != "" && !strings.Contains(info.String(), " running `openim-deploy "+strings.TrimPrefix(want, "openim-deploy ")+"`") {
			t.Errorf("%q: %s", cmd, info.String())
		}
	}
}
