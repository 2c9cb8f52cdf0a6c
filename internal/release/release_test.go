package release

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/layout"
	"github.com/openimsdk/openim-deploy/internal/target/local"
)

// fakeSystemctl answers "systemctl show" for every unit as a running
// service whose main process is the test's own shell, so the gather
// script's pid/cwd path runs for real.
const fakeSystemctl = `#!/bin/sh
[ -z "${FAKE_LOG:-}" ] || echo "$*" >>"$FAKE_LOG"
[ "$1" = show ] || exit 0
shift 4
first=1
for u in "$@"; do
	[ $first = 1 ] || echo
	first=0
	printf 'Id=%s\nActiveState=active\nSubState=running\nMainPID=%s\nNeedDaemonReload=no\n' "$u" "$FAKE_PID"
done
`

// newHost returns a Host rooted in temp directories, run by the local
// target with a fake systemctl first on PATH.
func newHost(t *testing.T) Host {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	require.NoError(t, os.MkdirAll(bin, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(bin, "systemctl"), []byte(fakeSystemctl), 0o755))
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	t.Setenv("FAKE_PID", "0")
	for _, d := range []string{"units", "state"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	return Host{
		T: local.New("test", ""), Root: filepath.Join(dir, "app"), App: "demo",
		UnitDir: filepath.Join(dir, "units"), StateDir: filepath.Join(dir, "state"),
	}
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func owner(t *testing.T) string {
	if os.Geteuid() == 0 {
		return ""
	}
	t.Skip("the release scripts chown to root: run as root (make test does)")
	return ""
}

// TestReleaseLifecycle pins the protocol end to end on a real /bin/sh:
// prepare links reused files, finalize writes the manifest and commits the
// release by rename, gather reads it back without re-hashing, switch moves
// current and prunes, and a stale partial is removed by the next prepare.
func TestReleaseLifecycle(t *testing.T) {
	h := newHost(t)
	ctx := t.Context()
	own := owner(t)

	id1 := "20261201-101500-000-aaaa"
	require.NoError(t, h.Prepare(ctx, id1, own, "", []string{"bin", "config"}, nil))
	require.NoError(t, os.WriteFile(filepath.Join(h.PartialDir(id1), "bin", "app"), []byte("v1"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(h.PartialDir(id1), "config", "a.yml"), []byte("cfg"), 0o644))
	m1 := Manifest{"bin/app": sha("v1"), "config/a.yml": sha("cfg"), "bin/copy": sha("v1")}
	require.NoError(t, h.Finalize(ctx, id1, []Link{{From: "bin/app", To: "bin/copy"}}, m1, "", []string{"config/a.yml"}, []string{"bin/app", "config/a.yml"}))
	got, err := os.ReadFile(filepath.Join(h.Dir(id1), "bin", "copy"))
	require.NoError(t, err)
	require.Equal(t, "v1", string(got))
	require.NoError(t, h.Switch(ctx, id1, 5, "2026-12-01T10:15:00Z current "+id1, nil, nil))

	// An interrupted run leaves a partial; the next prepare removes it.
	require.NoError(t, os.MkdirAll(filepath.Join(h.Root, "releases", ".stale.partial", "env"), 0o700))
	id2 := "20261201-101500-001-bbbb"
	require.NoError(t, h.Prepare(ctx, id2, own, "", []string{"bin", "config"}, []Link{{From: id1 + "/config/a.yml", To: "config/a.yml", Mode: 0o644}}))
	require.NoDirExists(t, filepath.Join(h.Root, "releases", ".stale.partial"))
	require.NoError(t, os.WriteFile(filepath.Join(h.PartialDir(id2), "bin", "app"), []byte("v2"), 0o755))

	// Gather sees the completed release, the partial in progress, and what
	// current points to; manifests come from the file, not from hashing.
	st, err := h.Gather(ctx, Request{ShowProperties: "Id"})
	require.NoError(t, err)
	require.Equal(t, id1, st.Current)
	require.Equal(t, m1, st.Releases[id1])
	require.Equal(t, []string{"." + id2 + ".partial"}, st.Partials)

	// A file that does not match the manifest (cut short in transit)
	// fails the finalize: the release is never committed.
	bad := Manifest{"bin/app": sha("v2 but longer"), "config/a.yml": sha("cfg")}
	require.ErrorContains(t, h.Finalize(ctx, id2, nil, bad, "", nil, []string{"bin/app"}), "does not match its SHA-256")
	require.NoDirExists(t, h.Dir(id2))
	require.DirExists(t, h.PartialDir(id2), "left for the next run's prepare to remove")

	m2 := Manifest{"bin/app": sha("v2"), "config/a.yml": sha("cfg")}
	require.NoError(t, h.Finalize(ctx, id2, nil, m2, "", nil, []string{"bin/app"}))
	require.NoError(t, h.Switch(ctx, id2, 1, "2026-12-01T10:16:00Z current "+id2, []string{id1}, nil))
	require.DirExists(t, h.Dir(id1), "a protected release is never pruned")
	require.NoError(t, h.Switch(ctx, id2, 1, "2026-12-01T10:17:00Z current "+id2, nil, nil))
	require.NoDirExists(t, h.Dir(id1))
	link, err := os.Readlink(filepath.Join(h.Root, "current"))
	require.NoError(t, err)
	require.Equal(t, "releases/"+id2, link)
}

// TestGatherUnitsAndProcesses: gather reports files it installed (by the
// header naming the app), never other files, the app target's wants, task
// records, requested files verbatim, systemd state and process cwd.
func TestGatherUnitsAndProcesses(t *testing.T) {
	h := newHost(t)
	ctx := t.Context()
	ours := "# Managed by openim-deploy (app=demo): changes here are overwritten.\n[Service]\n"
	legacy := "# Managed by openim-deploy: changes here are overwritten by the next apply.\n[Unit]\nPartOf=demo.target\n"
	require.NoError(t, h.Install(ctx, []File{
		{Rel: "api@.service", Content: []byte(ours)},
		{Rel: "api@0.service.d/release.conf", Content: []byte(ours + "WorkingDirectory=/x\n")},
		{Rel: "old@.service", Content: []byte(legacy)},
		{Rel: "other.service", Content: []byte("# Managed by openim-deploy (app=else)\n")},
		{Rel: "mine.service", Content: []byte("[Unit]\n")},
	}))
	require.NoError(t, os.MkdirAll(filepath.Join(h.UnitDir, "demo.target.wants"), 0o755))
	require.NoError(t, os.Symlink("../api@.service", filepath.Join(h.UnitDir, "demo.target.wants", "api@0.service")))
	require.NoError(t, h.RecordTask(ctx, "check", "fp1"))
	for _, l := range []string{"one", "two", "three"} {
		require.NoError(t, h.Audit(ctx, l))
	}

	// The fake systemctl reports this test's shell as the main PID.
	cwd := filepath.Join(h.Root, "releases", "r1")
	require.NoError(t, os.MkdirAll(cwd, 0o755))
	sleeper := exec.Command("sleep", "60")
	sleeper.Dir = cwd
	require.NoError(t, sleeper.Start())
	t.Cleanup(func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() })
	t.Setenv("FAKE_PID", itoa(sleeper.Process.Pid))

	st, err := h.Gather(ctx, Request{
		Files:          []string{"api@.service", "api@0.service.d/release.conf", "absent.service"},
		Units:          []string{"api@0.service", "api@1.service"},
		ShowProperties: "Id,ActiveState,SubState,MainPID,NeedDaemonReload",
		AuditLines:     2,
	})
	require.NoError(t, err)
	require.Equal(t, ours+"WorkingDirectory=/x\n", string(st.Files["api@0.service.d/release.conf"]))
	require.Equal(t, []string{"two", "three"}, st.Audit)
	require.Equal(t, []string{"api@.service", "old@.service", "api@0.service.d/release.conf"}, st.Owned)
	require.Equal(t, []string{"api@0.service"}, st.Wants)
	require.Equal(t, map[string]string{"check": "fp1"}, st.TaskRuns)
	require.Equal(t, ours, string(st.Files["api@.service"]))
	require.NotContains(t, st.Files, "absent.service")
	require.Len(t, st.Units, 2)
	require.Equal(t, "api@1.service", st.Units[1].ID)
	require.Equal(t, cwd, st.Cwd[sleeper.Process.Pid])
	require.Equal(t, "r1", ReleaseOf(h.Root, st.Cwd[sleeper.Process.Pid]))
}

// TestInstallRejectsTruncatedAndEscapingFiles: the unit writer installs
// nothing whose length or hash is wrong, and no path outside its directory.
func TestInstallRejectsTruncatedAndEscapingFiles(t *testing.T) {
	h := newHost(t)
	ctx := t.Context()
	// A record that promises more bytes than follow.
	_, err := h.run(ctx, withHeader(installScript), []byte("put 0644 100 "+sha("x")+" a.service\nshort"), false, h.UnitDir, h.App)
	require.Error(t, err)
	require.NoFileExists(t, filepath.Join(h.UnitDir, "a.service"))
	entries, _ := os.ReadDir(h.UnitDir)
	require.Empty(t, entries, "no temp file is left behind")
	// A wrong hash.
	_, err = h.run(ctx, withHeader(installScript), []byte("put 0644 5 "+sha("other")+" a.service\nshort"), false, h.UnitDir, h.App)
	require.ErrorContains(t, err, "sha256 mismatch")
	require.NoFileExists(t, filepath.Join(h.UnitDir, "a.service"))
	// A path that climbs out.
	err = h.Install(ctx, []File{{Rel: "../escape.service", Content: []byte("x")}})
	require.ErrorContains(t, err, "refusing path")
	// Deleting a drop-in removes its now empty directory.
	require.NoError(t, h.Install(ctx, []File{{Rel: "b@0.service.d/release.conf", Content: []byte(demoHeader + "x\n")}}))
	require.NoError(t, h.Install(ctx, []File{{Rel: "b@0.service.d/release.conf", Delete: true}}))
	require.NoDirExists(t, filepath.Join(h.UnitDir, "b@0.service.d"))
}

// TestInstallReloadShow: files, enablement (without systemctl's own
// reload), one daemon-reload and the proof it took, in one command.
func TestInstallReloadShow(t *testing.T) {
	h := newHost(t)
	log := filepath.Join(t.TempDir(), "systemctl.log")
	t.Setenv("FAKE_LOG", log)
	out, err := h.InstallReloadShow(t.Context(), []File{{Rel: "a@.service", Content: []byte("[Service]\n")}},
		[]string{"a@0.service", "a@1.service"}, []string{"a@0.service"})
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(h.UnitDir, "a@.service"))
	calls, err := os.ReadFile(log)
	require.NoError(t, err)
	require.Equal(t, "enable --no-reload -q -- a@0.service a@1.service\ndaemon-reload\nshow -p Id,NeedDaemonReload -- a@0.service\n", string(calls))
	require.Contains(t, string(out), "Id=a@0.service\n")
	require.Contains(t, string(out), "NeedDaemonReload=no")
}

func TestNewIDIsSortableAndUnique(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 15, 0, 5e6, time.UTC)
	a, b := NewID(at), NewID(at.Add(time.Millisecond))
	require.Regexp(t, `^20261201T101500\.005Z-[0-9a-f]{4}$`, a)
	require.Less(t, a, b)
	require.NotEqual(t, NewID(at), NewID(at), "the random suffix tells apart two ids made in one millisecond")
	require.True(t, layout.ValidReleaseID(a))
	require.Less(t, "20261201T101459Z", a, "ids of earlier versions sort by time with new ones")
}

func TestReleaseOf(t *testing.T) {
	require.Equal(t, "r1", ReleaseOf("/opt/a", "/opt/a/releases/r1"))
	require.Empty(t, ReleaseOf("/opt/a", "/opt/a/current"))
	require.Empty(t, ReleaseOf("/opt/a", "/opt/a/releases/r1/sub"))
	require.Empty(t, ReleaseOf("/opt/a", "/opt/a/releases/.r1.partial"))
	require.Empty(t, ReleaseOf("/opt/a", "/opt/ab/releases/r1"))
}

// demoHeader is the header of the files the tool writes for app demo.
const demoHeader = "# Managed by openim-deploy (app=demo): changes here are overwritten by the next apply.\n"

func itoa(n int) string { return strconv.Itoa(n) }
