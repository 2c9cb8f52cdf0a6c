package release

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGatherResolvesASymlinkedRoot: with the app root reached through a
// symlink (/opt -> /data/opt), a process's working directory is read
// resolved, so the root must be resolved the same way or no instance is
// ever seen to run a release (every apply would restart everything and
// pruning could take a release in use).
func TestGatherResolvesASymlinkedRoot(t *testing.T) {
	h := newHost(t)
	ctx := t.Context()
	realRoot := filepath.Join(filepath.Dir(h.Root), "data", "app")
	cwd := filepath.Join(realRoot, "releases", "r1")
	require.NoError(t, os.MkdirAll(cwd, 0o755))
	require.NoError(t, os.Symlink(realRoot, h.Root))

	sleeper := exec.Command("sleep", "60")
	sleeper.Dir = filepath.Join(h.Root, "releases", "r1") // entered through the link
	require.NoError(t, sleeper.Start())
	t.Cleanup(func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() })
	t.Setenv("FAKE_PID", itoa(sleeper.Process.Pid))

	st, err := h.Gather(ctx, Request{Units: []string{"api@0.service"}, ShowProperties: "Id,MainPID"})
	require.NoError(t, err)
	wantRoot, err := filepath.EvalSymlinks(h.Root)
	require.NoError(t, err)
	require.Equal(t, wantRoot, st.RealRoot)
	got := st.Cwd[sleeper.Process.Pid]
	require.Equal(t, "", ReleaseOf(h.Root, got), "the configured root alone never matches a resolved cwd")
	require.Equal(t, "r1", st.ReleaseOf(h.Root, got))
}

// TestGatherWithoutRoot: a cold host has no root to resolve, and the
// configured one is used as it is.
func TestGatherWithoutRoot(t *testing.T) {
	h := newHost(t)
	st, err := h.Gather(t.Context(), Request{ShowProperties: "Id"})
	require.NoError(t, err)
	require.Empty(t, st.RealRoot)
	require.Equal(t, "r1", st.ReleaseOf(h.Root, filepath.Join(h.Root, "releases", "r1")))
}
