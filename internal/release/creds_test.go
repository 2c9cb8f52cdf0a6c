package release

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/target"
)

// fakeCreds stands in for "systemd-creds encrypt --name=NAME - OUT": it
// writes "enc NAME:" and its stdin, reversed by rev so the plaintext is
// not in the file as is, and logs its arguments, which must never hold
// a value.
const fakeCreds = `#!/bin/sh
echo "$*" >>"$FAKE_LOG"
[ "$1" = encrypt ] || exit 9
name=${2#--name=}
{ printf 'enc %s:' "$name"; od -An -c; } >"$4"
`

// TestEncryptCredentials runs creds.sh on a real sh with a fake
// systemd-creds: each plaintext reaches it on stdin (never its arguments),
// the key is stored 0600 once, the files are 0600, a second key is
// refused, and input cut short fails with exitCorrupt.
func TestEncryptCredentials(t *testing.T) {
	h := newHost(t)
	bin := filepath.Dir(h.UnitDir) + "/bin"
	require.NoError(t, os.WriteFile(filepath.Join(bin, "systemd-creds"), []byte(fakeCreds), 0o755))
	log := filepath.Join(t.TempDir(), "log")
	t.Setenv("FAKE_LOG", log)
	ctx := context.Background()
	partial := h.PartialDir("r1")
	require.NoError(t, os.MkdirAll(partial, 0o755))
	key := bytes.Repeat([]byte{0xab}, CredKeySize)
	creds := []Credential{
		{Name: "openim-deploy-env", Rel: ".creds/env/api.cred", Content: []byte("PW=\"s3cret\"\n")},
		{Name: "db.yml", Rel: ".creds/files/config/db.yml.cred", Content: []byte("pw: s3cret\n")},
		{Name: "empty", Rel: ".creds/files/empty.cred", Content: nil},
	}
	require.NoError(t, h.EncryptCredentials(ctx, "r1", key, creds))

	k, err := os.ReadFile(filepath.Join(h.StateDir, CredKeyName))
	require.NoError(t, err)
	require.Equal(t, hex.EncodeToString(key)+"\n", string(k))
	st, err := os.Stat(filepath.Join(h.StateDir, CredKeyName))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	for _, c := range creds {
		p := filepath.Join(partial, c.Rel)
		b, err := os.ReadFile(p)
		require.NoError(t, err, c.Rel)
		require.True(t, strings.HasPrefix(string(b), "enc "+c.Name+":"), "%s: %q", c.Rel, b)
		require.NotContains(t, string(b), "s3cret", "the fake's od output splits the bytes")
		st, err := os.Stat(p)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), st.Mode().Perm(), c.Rel)
	}
	b, err := os.ReadFile(filepath.Join(partial, ".creds/files/config/db.yml.cred"))
	require.NoError(t, err)
	require.Contains(t, string(b), "p   w   :       s   3   c   r   e   t  \\n", "the plaintext, byte for byte, on stdin")
	args, err := os.ReadFile(log)
	require.NoError(t, err)
	require.NotContains(t, string(args), "s3cret")
	require.Equal(t, 3, strings.Count(string(args), "encrypt --name="))
	entries, err := filepath.Glob(filepath.Join(partial, ".creds", "*", "*.tmp"))
	require.NoError(t, err)
	require.Empty(t, entries)

	// The host has a key now: another is refused.
	err = h.EncryptCredentials(ctx, "r1", key, creds[:1])
	var ee *target.ExitError
	require.True(t, errors.As(err, &ee), "%v", err)
	require.Equal(t, exitBadInput, ee.Code)

	// Input cut short (no "end"): exitCorrupt.
	_, err = h.run(ctx, credsScript, []byte("cred x 100 .creds/x.cred\nshort"), false, h.StateDir, partial)
	require.True(t, errors.As(err, &ee), "%v", err)
	require.Equal(t, exitCorrupt, ee.Code)
}

// TestGatherReadsCredentialKey: gather reports the stored key, which
// ParseGather checks.
func TestGatherReadsCredentialKey(t *testing.T) {
	h := newHost(t)
	st, err := h.Gather(context.Background(), Request{})
	require.NoError(t, err)
	require.Nil(t, st.CredKey)
	key := bytes.Repeat([]byte{0x5a}, CredKeySize)
	require.NoError(t, os.WriteFile(filepath.Join(h.StateDir, CredKeyName), []byte(hex.EncodeToString(key)+"\n"), 0o600))
	st, err = h.Gather(context.Background(), Request{})
	require.NoError(t, err)
	require.Equal(t, key, st.CredKey)

	_, err = ParseGather([]byte("credkey abcd\n"))
	require.ErrorContains(t, err, "credential key")
}

// TestSwitchRetiring: a release the plan retires is removed even when
// protected, unless a drop-in pins it; a release it does not name stays,
// whatever it holds (the plan, not the files' modes, knows what a secret
// is: a 0600 file of the operator's is no reason to remove a release).
func TestSwitchRetiring(t *testing.T) {
	owner(t)
	h := newHost(t)
	ctx := context.Background()
	ids := []string{"20261201T000000.000Z-0000", "20261201T000000.000Z-0001", "20261201T000000.000Z-0002", "20261201T000000.000Z-0003"}
	mk := func(id string, files map[string]os.FileMode) {
		for rel, mode := range files {
			p := filepath.Join(h.Root, "releases", id, rel)
			require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
			require.NoError(t, os.WriteFile(p, []byte("x"), mode))
			require.NoError(t, os.Chmod(p, mode))
		}
	}
	plainEnv := map[string]os.FileMode{"bin/s": 0o755, "env/s.env": 0o600, ".manifest": 0o600}
	mk(ids[0], plainEnv)
	mk(ids[1], map[string]os.FileMode{"bin/s": 0o755, "secret/creds.yml": 0o600, ".manifest": 0o600})
	mk(ids[2], map[string]os.FileMode{"bin/s": 0o755, ".creds/env/s.cred": 0o600, ".creds/run": 0o755, ".manifest": 0o600})
	mk(ids[3], map[string]os.FileMode{"bin/s": 0o755, ".creds/env/s.cred": 0o600, ".manifest": 0o600})
	pin := filepath.Join(h.UnitDir, "s@0.service.d", DropInName)
	require.NoError(t, os.MkdirAll(filepath.Dir(pin), 0o755))
	require.NoError(t, os.WriteFile(pin, []byte("[Service]\nWorkingDirectory="+h.Root+"/releases/"+ids[1]+"\n"), 0o644))
	exists := func(id string) bool {
		_, err := os.Stat(filepath.Join(h.Root, "releases", id))
		return err == nil
	}

	require.NoError(t, h.Switch(ctx, ids[3], 10, "l current "+ids[3], ids[:3], nil))
	for _, id := range ids {
		require.True(t, exists(id), "nothing retired, nothing removed: %s", id)
	}
	require.NoError(t, h.Switch(ctx, ids[3], 10, "l current "+ids[3], ids[:3], []string{ids[0], ids[1], ids[3]}))
	require.False(t, exists(ids[0]), "retired though protected")
	require.True(t, exists(ids[1]), "retired but pinned by a drop-in: kept")
	require.True(t, exists(ids[2]), "not retired: kept")
	require.True(t, exists(ids[3]), "the new current, never removed")
	require.ErrorContains(t, h.Switch(ctx, ids[3], 10, "l", nil, []string{"../x"}), "not safe")
}
