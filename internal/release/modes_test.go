package release

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStateFilesArePrivate pins the modes of what the release scripts
// write that could betray a secret to another user of the host: the
// manifest (the SHA-256 of env files and sensitive templates; an older
// release's 0644 manifest is tightened too), the audit log and the task
// records, and the state directories made for them.
func TestStateFilesArePrivate(t *testing.T) {
	h := newHost(t)
	ctx := t.Context()
	own := owner(t)
	h.StateDir = filepath.Join(h.StateDir, "fresh", "demo") // made by the scripts

	old := "20261201-101500-000-aaaa"
	require.NoError(t, h.Prepare(ctx, old, own, "", []string{"env"}, nil))
	require.NoError(t, h.Finalize(ctx, old, nil, Manifest{}, "", nil, nil))
	require.NoError(t, os.Chmod(filepath.Join(h.Dir(old), ManifestName), 0o644)) // as earlier versions left it

	id := "20261201-101500-001-bbbb"
	require.NoError(t, h.Prepare(ctx, id, own, "", []string{"env"}, nil))
	require.NoError(t, os.WriteFile(filepath.Join(h.PartialDir(id), "env", "api.env"), []byte("PW=s3cr3t\n"), 0o600))
	require.NoError(t, h.Finalize(ctx, id, nil, Manifest{"env/api.env": sha("PW=s3cr3t\n")}, "", nil, []string{"env/api.env"}))
	require.NoError(t, h.Audit(ctx, "2026-12-01T10:15:00Z user=ops action=apply"))
	require.NoError(t, h.RecordTask(ctx, "migrate", sha("inputs")))

	for p, want := range map[string]fs.FileMode{
		filepath.Join(h.Dir(id), ManifestName):      0o600,
		filepath.Join(h.Dir(old), ManifestName):     0o600,
		filepath.Join(h.Dir(id), "env"):             0o700,
		filepath.Dir(h.StateDir):                    0o700,
		h.StateDir:                                  0o700,
		filepath.Join(h.StateDir, "audit.log"):      0o600,
		filepath.Join(h.StateDir, "ran", "migrate"): 0o600,
	} {
		fi, err := os.Stat(p)
		require.NoError(t, err)
		require.Equal(t, want, fi.Mode().Perm(), p)
	}
	st, err := h.Gather(ctx, Request{})
	require.NoError(t, err)
	require.Equal(t, sha("PW=s3cr3t\n"), st.Releases[id]["env/api.env"], "the plan still sees the env file's hash")
}
