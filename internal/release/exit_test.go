package release

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/target"
)

// exitStatus is the status err reports from a script, -1 for none.
func exitStatus(err error) int {
	var ee *target.ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return -1
}

// TestInstallExitStatuses pins install.sh's statuses on a real /bin/sh,
// each for the one thing its header says: invalid input, a file that
// arrived wrong, systemctl failing after the files are in place.
func TestInstallExitStatuses(t *testing.T) {
	ctx := t.Context()
	install := func(h Host, records string, after ...string) error {
		_, err := h.runOwning(ctx, withHeader(installScript), []byte(records), append([]string{h.UnitDir, h.App}, after...)...)
		return err
	}
	h := newHost(t)
	require.Equal(t, exitCorrupt, exitStatus(install(h, "put 0644 100 "+sha("x")+" a.service\nshort")), "cut short")
	require.Equal(t, exitCorrupt, exitStatus(install(h, "put 0644 5 "+sha("other")+" a.service\nshort")), "wrong SHA-256")
	require.Equal(t, exitBadInput, exitStatus(install(h, "put 0644 1 "+sha("x")+" ../a.service\nx")), "a path that climbs out")
	require.Equal(t, exitBadInput, exitStatus(install(h, "chmod - - - a.service\n")), "an unknown record")
	require.NoFileExists(t, filepath.Join(h.UnitDir, "a.service"))

	// own.sh, prepended, refuses a missing state directory with the same
	// status as any other invalid input.
	noState := h
	noState.StateDir = ""
	require.Equal(t, exitBadInput, exitStatus(install(noState, "")))

	// systemctl failing after the files are in place.
	bin := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bin, "systemctl"), []byte("#!/bin/sh\necho \"systemctl: $1 failed\" >&2\nexit 1\n"), 0o755))
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	err := h.InstallAndReload(ctx, []File{{Rel: "a@.service", Content: []byte(demoHeader)}})
	require.Equal(t, exitSystemctl, exitStatus(err))
	require.ErrorContains(t, err, "unit files installed, then systemctl failed")
	require.FileExists(t, filepath.Join(h.UnitDir, "a@.service"))
}

// TestFinalizeExitStatus pins finalize.sh's one status of its own: a
// checked file that does not match the manifest.
func TestFinalizeExitStatus(t *testing.T) {
	h := newHost(t)
	ctx := t.Context()
	own := owner(t)
	id := "20261201-101500-000-aaaa"
	require.NoError(t, h.Prepare(ctx, id, own, "", []string{"bin"}, nil))
	require.NoError(t, os.WriteFile(filepath.Join(h.PartialDir(id), "bin", "app"), []byte("v1"), 0o755))
	err := h.Finalize(ctx, id, nil, Manifest{"bin/app": sha("v1 but longer")}, "", nil, []string{"bin/app"})
	require.Equal(t, exitCorrupt, exitStatus(err))
	require.NoDirExists(t, h.Dir(id))
}
