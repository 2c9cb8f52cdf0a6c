package release

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/target/local"
)

// fakeUninstallSystemctl logs every call and says every unit is loaded.
const fakeUninstallSystemctl = `#!/bin/sh
echo "$*" >>"$FAKE_LOG"
[ "$1" = show ] && echo loaded
exit 0
`

// newUninstallHost returns the host of app "im" rooted in a temp
// directory, with a state directory holding app "im.v2"'s state and live
// lock beside im's own, and a fake systemctl that logs to the returned file.
func newUninstallHost(t *testing.T) (h Host, state, log string) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	require.NoError(t, os.MkdirAll(bin, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(bin, "systemctl"), []byte(fakeUninstallSystemctl), 0o755))
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	log = filepath.Join(dir, "systemctl.log")
	t.Setenv("FAKE_LOG", log)
	state = filepath.Join(dir, "state")
	for _, d := range []string{"units", "state/im.v2/ran", "state/im.lock", "state/im.v2.lock"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	require.NoError(t, os.WriteFile(filepath.Join(state, "im.v2", "owned"), []byte("/srv/im.v2/releases\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(state, "im.v2.lock", "holder"), []byte("apply\n"), 0o644))
	h = Host{
		T: local.New("test", ""), Root: filepath.Join(dir, "srv", "im"), App: "im",
		UnitDir: filepath.Join(dir, "units"), StateDir: filepath.Join(state, "im"),
	}
	return h, state, log
}

// deployIm lays down one release of app "im" through the real scripts:
// prepare, finalize, switch, and its units installed.
func deployIm(t *testing.T, h Host) {
	t.Helper()
	ctx := t.Context()
	own := owner(t)
	id := "20261201T101500.000Z-aaaa"
	require.NoError(t, h.Prepare(ctx, id, own, "", []string{"bin"}, nil))
	require.NoError(t, os.WriteFile(filepath.Join(h.PartialDir(id), "bin", "app"), []byte("v1"), 0o755))
	require.NoError(t, h.Finalize(ctx, id, nil, Manifest{"bin/app": sha("v1")}, "", nil, nil))
	require.NoError(t, h.Switch(ctx, id, 5, "2026-12-05T07:00:00Z current "+id, nil, nil))
	ours := "# Managed by openim-deploy (app=im): changes here are overwritten.\n[Service]\n"
	require.NoError(t, h.Install(ctx, []File{
		{Rel: "api@.service", Content: []byte(ours)},
		{Rel: "api@0.service.d/release.conf", Content: []byte(ours)},
		{Rel: "im.target", Content: []byte(ours)},
	}))
}

// TestOwnRecordListsWhatTheToolCreated: prepare, switch and install
// record, by exact name, the root (created here), releases/, current,
// every unit file and drop-in and its directory, each once.
func TestOwnRecordListsWhatTheToolCreated(t *testing.T) {
	h, _, _ := newUninstallHost(t)
	deployIm(t, h)
	deployIm2 := func() { // a second release records nothing twice
		id := "20261201T101600.000Z-bbbb"
		require.NoError(t, h.Prepare(t.Context(), id, owner(t), "", []string{"bin"}, nil))
		require.NoError(t, h.Finalize(t.Context(), id, nil, Manifest{}, "", nil, nil))
		require.NoError(t, h.Switch(t.Context(), id, 5, "2026-12-05T07:00:00Z current "+id, nil, nil))
	}
	deployIm2()
	rec, err := os.ReadFile(filepath.Join(h.StateDir, "owned"))
	require.NoError(t, err)
	require.Equal(t, strings.Join([]string{
		h.Root, h.Root + "/releases", h.Root + "/current",
		h.UnitDir + "/api@.service", h.UnitDir + "/api@0.service.d", h.UnitDir + "/api@0.service.d/release.conf",
		h.UnitDir + "/im.target",
	}, "\n")+"\n", string(rec))
	fi, err := os.Stat(filepath.Join(h.StateDir, "owned"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the record is the tool's own state")
}

// TestPurgeKeepsForeignDataAndOtherApps pins the contract of the issue
// "first, do no harm": purging app "im" whose root also holds the
// operator's data/ removes the units, releases, current and im's state by
// exact name, keeps data/ (and the root, naming why), and leaves app
// "im.v2"'s state and live lock alone.
func TestPurgeKeepsForeignDataAndOtherApps(t *testing.T) {
	h, state, log := newUninstallHost(t)
	require.NoError(t, os.MkdirAll(filepath.Join(h.Root, "data"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(h.Root, "data", "db"), []byte("precious"), 0o644))
	deployIm(t, h)
	foreign := filepath.Join(h.UnitDir, "im-other.service")
	require.NoError(t, os.WriteFile(foreign, []byte("[Unit]\n"), 0o644))
	units := []string{"api@.service", "api@0.service", "im.target", "im-other.service"}

	preview, err := h.Uninstall(t.Context(), UninstallPreview, units)
	require.NoError(t, err)
	require.Equal(t, []string{
		"remove " + h.UnitDir + "/api@.service", "remove " + h.UnitDir + "/im.target",
		"remove " + h.Root + "/current", "remove " + h.Root + "/releases", "remove " + h.StateDir,
	}, preview, "the root holds data/: a purge keeps it")
	require.DirExists(t, h.Dir("20261201T101500.000Z-aaaa"), "a preview changes nothing")

	out, err := h.Uninstall(t.Context(), UninstallPurge, units)
	require.NoError(t, err)
	require.Contains(t, out, "kept "+h.Root+": it holds data/ that openim-deploy did not create")
	require.Contains(t, out, "stopped and disabled api@0.service im.target")
	calls, err := os.ReadFile(log)
	require.NoError(t, err)
	require.Contains(t, string(calls), "stop -- api@0.service im.target\n")

	require.NoFileExists(t, filepath.Join(h.UnitDir, "api@.service"))
	require.NoDirExists(t, filepath.Join(h.UnitDir, "api@0.service.d"))
	require.NoFileExists(t, filepath.Join(h.UnitDir, "im.target"))
	require.FileExists(t, foreign, "a unit without the tool's header is not the tool's")
	require.NoDirExists(t, filepath.Join(h.Root, "releases"))
	require.NoFileExists(t, filepath.Join(h.Root, "current"))
	require.NoDirExists(t, h.StateDir)
	data, err := os.ReadFile(filepath.Join(h.Root, "data", "db"))
	require.NoError(t, err)
	require.Equal(t, "precious", string(data))
	require.FileExists(t, filepath.Join(state, "im.v2", "owned"), "another app's state is never touched")
	require.FileExists(t, filepath.Join(state, "im.v2.lock", "holder"), "another app's live lock is never touched")
	require.DirExists(t, filepath.Join(state, "im.lock"), "the lock is released by its holder, not purged")

	again, err := h.Uninstall(t.Context(), UninstallPurge, units)
	require.NoError(t, err)
	require.Empty(t, again, "a second purge finds nothing")
}

// TestPurgeRemovesARootTheToolCreated: a root the tool created and that
// holds nothing else goes with the purge.
func TestPurgeRemovesARootTheToolCreated(t *testing.T) {
	h, _, _ := newUninstallHost(t)
	deployIm(t, h)
	out, err := h.Uninstall(t.Context(), UninstallPurge, nil)
	require.NoError(t, err)
	require.Contains(t, out, "removed "+h.Root)
	require.NoDirExists(t, h.Root)
}

// TestPurgeWithoutRecordKeepsTheRoot: a host deployed by a version that
// kept no record loses releases/ and current (the layout's names) and the
// header-checked units the playbook names, but never the root itself.
func TestPurgeWithoutRecordKeepsTheRoot(t *testing.T) {
	h, _, _ := newUninstallHost(t)
	deployIm(t, h)
	require.NoError(t, os.Remove(filepath.Join(h.StateDir, "owned")))
	out, err := h.Uninstall(t.Context(), UninstallPurge, []string{"api@.service", "api@0.service", "im.target"})
	require.NoError(t, err)
	require.Contains(t, out, "kept "+h.Root+": empty, but openim-deploy did not create it")
	require.DirExists(t, h.Root)
	require.NoDirExists(t, filepath.Join(h.Root, "releases"))
	require.NoFileExists(t, filepath.Join(h.UnitDir, "api@.service"))
	require.NoDirExists(t, filepath.Join(h.UnitDir, "api@0.service.d"))
}

// TestUninstallWithoutPurgeKeepsReleases: plain uninstall removes units
// only.
func TestUninstallWithoutPurgeKeepsReleases(t *testing.T) {
	h, _, _ := newUninstallHost(t)
	deployIm(t, h)
	_, err := h.Uninstall(t.Context(), UninstallUnits, nil)
	require.NoError(t, err)
	require.NoFileExists(t, filepath.Join(h.UnitDir, "api@.service"), "found through the record alone")
	require.DirExists(t, filepath.Join(h.Root, "releases"))
	require.FileExists(t, filepath.Join(h.StateDir, "owned"))
}
