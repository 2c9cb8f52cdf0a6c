package remote

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
)

// TestLoadSignerFollowsTheFile: an identity file is parsed once for every
// connection that uses it, and again once it changes (another key
// written in its place, here with the same size and a forced equal
// modification time).
func TestLoadSignerFollowsTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "id_ed25519")
	write := func() ssh.PublicKey {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		require.NoError(t, err)
		block, err := ssh.MarshalPrivateKey(priv, "")
		require.NoError(t, err)
		tmp := path + ".new"
		require.NoError(t, os.WriteFile(tmp, pem.EncodeToMemory(block), 0o600))
		require.NoError(t, os.Rename(tmp, path)) // a new inode, as ssh-keygen leaves
		s, err := ssh.NewSignerFromKey(priv)
		require.NoError(t, err)
		return s.PublicKey()
	}
	first := write()
	a, err := loadSigner(path)
	require.NoError(t, err)
	require.Equal(t, first.Marshal(), a.PublicKey().Marshal())
	b, err := loadSigner(path)
	require.NoError(t, err)
	require.Same(t, a, b, "parsed once")

	fi, err := os.Stat(path)
	require.NoError(t, err)
	second := write()
	require.NoError(t, os.Chtimes(path, fi.ModTime(), fi.ModTime()))
	c, err := loadSigner(path)
	require.NoError(t, err)
	require.Equal(t, second.Marshal(), c.PublicKey().Marshal())

	require.NoError(t, os.Remove(path))
	_, err = loadSigner(path)
	require.ErrorContains(t, err, "identity")
}
