package release

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPrepareLinksOnlyWhatCanBeShared: a file of an older release becomes
// a hard link in the new one only when it is root's with exactly the mode
// the new release wants. An app-owned template or a file of another mode
// is copied: finalize's chown -R and chmod of the new release must never
// reach a release that runs (a 0640 app-owned config made root's would be
// unreadable to its service).
func TestPrepareLinksOnlyWhatCanBeShared(t *testing.T) {
	h := newHost(t)
	ctx := t.Context()
	own := owner(t)
	const appUID, appGID = 4242, 4242

	id1 := "20261201-101500-000-aaaa"
	require.NoError(t, h.Prepare(ctx, id1, own, "", []string{"bin", "config"}, nil))
	part := h.PartialDir(id1)
	require.NoError(t, os.WriteFile(filepath.Join(part, "bin", "app"), []byte("v1"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(part, "config", "app.yml"), []byte("same bytes"), 0o640))
	require.NoError(t, os.WriteFile(filepath.Join(part, "config", "plain.yml"), []byte("plain"), 0o644))
	m1 := Manifest{"bin/app": sha("v1"), "config/app.yml": sha("same bytes"), "config/plain.yml": sha("plain")}
	require.NoError(t, h.Finalize(ctx, id1, nil, m1, "", nil, nil))
	// The template the service reads, as finalize gives it to the app user.
	tmpl := filepath.Join(h.Dir(id1), "config", "app.yml")
	require.NoError(t, os.Chown(tmpl, appUID, appGID))

	id2 := "20261201-101500-001-bbbb"
	require.NoError(t, h.Prepare(ctx, id2, own, "", []string{"bin", "config"}, []Link{
		{From: id1 + "/bin/app", To: "bin/app", Mode: 0o755},                   // root's, same mode: linked
		{From: id1 + "/config/app.yml", To: "config/copy.yml", Mode: 0o644},    // app-owned: copied
		{From: id1 + "/config/plain.yml", To: "config/plain.yml", Mode: 0o600}, // another mode: copied
	}))
	part = h.PartialDir(id2)
	require.True(t, sameInode(t, filepath.Join(h.Dir(id1), "bin", "app"), filepath.Join(part, "bin", "app")))
	require.False(t, sameInode(t, tmpl, filepath.Join(part, "config", "copy.yml")))
	require.False(t, sameInode(t, filepath.Join(h.Dir(id1), "config", "plain.yml"), filepath.Join(part, "config", "plain.yml")))
	requireMode(t, filepath.Join(part, "config", "copy.yml"), 0o644)
	requireMode(t, filepath.Join(part, "config", "plain.yml"), 0o600)
	b, err := os.ReadFile(filepath.Join(part, "config", "copy.yml"))
	require.NoError(t, err)
	require.Equal(t, "same bytes", string(b))

	m2 := Manifest{"bin/app": sha("v1"), "config/copy.yml": sha("same bytes"), "config/plain.yml": sha("plain")}
	require.NoError(t, h.Finalize(ctx, id2, nil, m2, "", nil, nil))
	// The running release's template is still the app user's, 0640.
	fi, err := os.Stat(tmpl)
	require.NoError(t, err)
	st := fi.Sys().(*syscall.Stat_t)
	require.Equal(t, uint32(appUID), st.Uid)
	require.Equal(t, os.FileMode(0o640), fi.Mode().Perm())
}

func sameInode(t *testing.T, a, b string) bool {
	t.Helper()
	fa, err := os.Stat(a)
	require.NoError(t, err)
	fb, err := os.Stat(b)
	require.NoError(t, err)
	return os.SameFile(fa, fb)
}

func requireMode(t *testing.T, p string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(p)
	require.NoError(t, err)
	require.Equal(t, want, fi.Mode().Perm(), p)
}

// TestSwitchAndAuditWriteTheLedger: the switch appends its "current" line
// in the same script that moves current, the audit rider appends the
// run's other lines, gather reads them back when asked, and the ledger is
// readable by root only.
func TestSwitchAndAuditWriteTheLedger(t *testing.T) {
	h := newHost(t)
	ctx := t.Context()
	id := "20261201-101500-000-aaaa"
	require.NoError(t, os.MkdirAll(filepath.Join(h.Root, "releases", id), 0o755))
	require.NoError(t, h.Switch(ctx, id, 5, "2026-12-01T10:15:00Z current "+id+" from=-", nil, nil))
	p, err := h.AuditPart("audit line", "2026-12-01T10:15:01Z built "+id, "2026-12-01T10:15:02Z failed x units=a@0.service")
	require.NoError(t, err)
	_, err = h.run(ctx, p.Script, nil, false, p.Args...)
	require.NoError(t, err)

	st, err := h.Gather(ctx, Request{ShowProperties: "Id", Ledger: true})
	require.NoError(t, err)
	require.Equal(t, []string{"2026-12-01T10:15:00Z current " + id + " from=-", "2026-12-01T10:15:01Z built " + id,
		"2026-12-01T10:15:02Z failed x units=a@0.service"}, st.Ledger)
	st, err = h.Gather(ctx, Request{ShowProperties: "Id"})
	require.NoError(t, err)
	require.Empty(t, st.Ledger, "read only when asked")
	requireMode(t, filepath.Join(h.StateDir, "ledger"), 0o600)
}
