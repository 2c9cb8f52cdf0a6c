package agefile

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"filippo.io/age"
	"filippo.io/age/armor"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
)

// newIdentity writes a fresh age identity file and loads it.
func newIdentity(t *testing.T, dir, name string) (*Identities, *age.X25519Identity) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte("# created: test\n# public key: "+id.Recipient().String()+"\n"+id.String()+"\n"), 0o600))
	ids, err := LoadIdentities(p)
	require.NoError(t, err)
	return ids, id
}

// TestIdentityPath pins where the identity file is looked for:
// $OPENIM_DEPLOY_AGE_IDENTITY, then $XDG_CONFIG_HOME, then ~/.config.
func TestIdentityPath(t *testing.T) {
	home := "/home/u"
	require.Equal(t, "/home/u/.config/openim-deploy/age/keys.txt", IdentityPath(nil, home))
	require.Equal(t, "/x/openim-deploy/age/keys.txt", IdentityPath([]string{"XDG_CONFIG_HOME=/x"}, home))
	require.Equal(t, "/home/u/.config/openim-deploy/age/keys.txt", IdentityPath([]string{"XDG_CONFIG_HOME=rel"}, home), "a relative XDG_CONFIG_HOME is ignored, as the spec says")
	require.Equal(t, "/k.txt", IdentityPath([]string{"XDG_CONFIG_HOME=/x", IdentityEnv + "=/k.txt"}, home))
	require.Equal(t, "/home/u/keys/k.txt", IdentityPath([]string{IdentityEnv + "=~/keys/k.txt"}, home))
}

// TestRoundTrip pins that Encrypt writes armored age that Decrypt reads
// back, and that a binary age file (age -e without -a) reads too.
func TestRoundTrip(t *testing.T) {
	ids, id := newIdentity(t, t.TempDir(), "keys.txt")
	require.Equal(t, []string{id.Recipient().String()}, ids.Recipients())
	plain := []byte("mongo_password = \"hunter2\"\n")
	ct, err := Encrypt(plain, []age.Recipient{id.Recipient()})
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(ct, []byte(armor.Header+"\n")), "armored")
	require.NotContains(t, string(ct), "hunter2")
	got, err := Decrypt(ct, ids)
	require.NoError(t, err)
	require.Equal(t, plain, got)

	var bin bytes.Buffer
	w, err := age.Encrypt(&bin, id.Recipient())
	require.NoError(t, err)
	_, _ = w.Write(plain)
	require.NoError(t, w.Close())
	got, err = Decrypt(bin.Bytes(), ids)
	require.NoError(t, err)
	require.Equal(t, plain, got)
}

// TestDecryptFailures pins each way a file fails to decrypt: the kind
// (for errors.Is), a message that says what to do, nothing of the
// plaintext returned, and nothing of the file quoted.
func TestDecryptFailures(t *testing.T) {
	dir := t.TempDir()
	ids, id := newIdentity(t, dir, "keys.txt")
	other, _ := newIdentity(t, dir, "other.txt")
	// More than one 64 KiB chunk: a truncated file still decrypts its
	// first chunk, which must not come back.
	plain := bytes.Repeat([]byte("pw = \"hunter2\"\n"), 10000)
	var bin bytes.Buffer
	w, err := age.Encrypt(&bin, id.Recipient())
	require.NoError(t, err)
	_, _ = w.Write(plain)
	require.NoError(t, w.Close())
	armored, err := Encrypt(plain, []age.Recipient{id.Recipient()})
	require.NoError(t, err)

	tamperedPayload := bytes.Clone(bin.Bytes())
	tamperedPayload[len(tamperedPayload)-100] ^= 1
	hdrEnd := bytes.Index(bin.Bytes(), []byte("\n--- ")) + len("\n--- ")
	// The header's MAC, decoded, one bit flipped, encoded again: the
	// header still parses, and fails to authenticate.
	macEnd := hdrEnd + bytes.IndexByte(bin.Bytes()[hdrEnd:], '\n')
	mac, err := base64.RawStdEncoding.DecodeString(string(bin.Bytes()[hdrEnd:macEnd]))
	require.NoError(t, err)
	mac[0] ^= 1
	tamperedMAC := slices.Concat(bin.Bytes()[:hdrEnd], []byte(base64.RawStdEncoding.EncodeToString(mac)), bin.Bytes()[macEnd:])
	lines := strings.Split(string(armored), "\n")
	truncatedArmor := strings.Join(append(lines[:len(lines)/2:len(lines)/2], armor.Footer, ""), "\n")
	mangle := func(i int) []byte {
		ls := append([]string(nil), lines...)
		ls[i] = "!!!!"
		return []byte(strings.Join(ls, "\n"))
	}

	scrypt, err := age.NewScryptRecipient("pass")
	require.NoError(t, err)
	scrypt.SetWorkFactor(10)
	var pw bytes.Buffer
	w, err = age.Encrypt(&pw, scrypt)
	require.NoError(t, err)
	_, _ = w.Write(plain)
	require.NoError(t, w.Close())

	for _, tc := range []struct {
		name string
		src  []byte
		ids  *Identities
		kind error
		msg  string
	}{
		{"wrong key", bin.Bytes(), other, ErrWrongKey, "none of the identities in " + other.Path + " can decrypt it (it is encrypted to age X25519 keys)"},
		{"passphrase", pw.Bytes(), ids, ErrWrongKey, "a passphrase (age -p), which openim-deploy does not read"},
		{"truncated", bin.Bytes()[:70000], ids, ErrDamaged, "truncated, or was changed"},
		{"truncated to the header", bin.Bytes()[:hdrEnd+10], ids, ErrDamaged, "header is truncated, or was changed"},
		{"tampered payload", tamperedPayload, ids, ErrDamaged, "truncated, or was changed"},
		{"tampered header MAC", tamperedMAC, ids, ErrDamaged, "header does not authenticate"},
		{"truncated armor", []byte(truncatedArmor), ids, ErrDamaged, "truncated, or was changed"},
		{"mangled armor in the header", mangle(1), ids, ErrDamaged, "armor"},
		{"mangled armor in the payload", mangle(len(lines) - 5), ids, ErrDamaged, "armor"},
		{"plain text", []byte("pw = \"hunter2\"\n"), ids, ErrNotAge, "does not start with an age header"},
		{"empty", nil, ids, ErrNotAge, "does not start with an age header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decrypt(tc.src, tc.ids)
			require.Nil(t, got, "nothing of a failed decryption comes back")
			require.ErrorIs(t, err, tc.kind)
			require.Contains(t, err.Error(), tc.msg)
			require.NotContains(t, err.Error(), "hunter2")
			require.NotContains(t, err.Error(), "pw =")
		})
	}
}

// TestSSHIdentity pins that an unencrypted SSH ed25519 key works as an
// identity, its public key line as a recipient, and that a key with a
// passphrase is refused with a message saying so.
func TestSSHIdentity(t *testing.T) {
	dir := t.TempDir()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKey(priv, "test")
	require.NoError(t, err)
	p := filepath.Join(dir, "id_ed25519")
	require.NoError(t, os.WriteFile(p, pem.EncodeToMemory(block), 0o600))
	ids, err := LoadIdentities(p)
	require.NoError(t, err)
	recs := ids.Recipients()
	require.Len(t, recs, 1)
	require.True(t, strings.HasPrefix(recs[0], "ssh-ed25519 "), recs[0])
	r, err := ParseRecipient(recs[0])
	require.NoError(t, err)
	ct, err := Encrypt([]byte("x = 1\n"), []age.Recipient{r})
	require.NoError(t, err)
	got, err := Decrypt(ct, ids)
	require.NoError(t, err)
	require.Equal(t, "x = 1\n", string(got))

	block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "test", []byte("pass"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(p, pem.EncodeToMemory(block), 0o600))
	_, err = LoadIdentities(p)
	require.ErrorContains(t, err, "protected by a passphrase")
}

// TestLoadIdentitiesErrors pins the messages for a missing identity file
// and one that holds no key, never quoting a line of it.
func TestLoadIdentitiesErrors(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "keys.txt")
	_, err := LoadIdentities(p)
	require.ErrorIs(t, err, ErrNoIdentity)
	require.ErrorContains(t, err, p+" does not exist")
	require.ErrorContains(t, err, IdentityEnv)

	require.NoError(t, os.WriteFile(p, []byte("AGE-SECRET-KEY-1NOTAKEYhunter2\n"), 0o600))
	_, err = LoadIdentities(p)
	require.ErrorContains(t, err, "keys.txt")
	require.NotContains(t, err.Error(), "hunter2")
}

// TestParseRecipients pins the recipients file format (age -R's): keys,
// comments and blank lines; a private key pasted in by mistake is refused
// without being quoted; an empty list is an error.
func TestParseRecipients(t *testing.T) {
	_, a := newIdentity(t, t.TempDir(), "a.txt")
	_, b := newIdentity(t, t.TempDir(), "b.txt")
	text := "# team\n" + a.Recipient().String() + "\n\n  " + b.Recipient().String() + "  \n"
	recs, lines, err := ParseRecipients([]byte(text), "f.age.recipients")
	require.NoError(t, err)
	require.Len(t, recs, 2)
	require.Equal(t, []string{a.Recipient().String(), b.Recipient().String()}, lines)

	_, _, err = ParseRecipients([]byte("# x\n"+a.String()+"\n"), "f.age.recipients")
	require.ErrorContains(t, err, "f.age.recipients:2: not a recipient")
	require.NotContains(t, err.Error(), "AGE-SECRET")
	_, _, err = ParseRecipients([]byte("# nobody\n"), "f.age.recipients")
	require.ErrorContains(t, err, "lists no recipient")
}
