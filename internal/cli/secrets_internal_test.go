package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/agefile"
)

// secretsFixture makes an identity and FILE.age (with its recipients
// file) holding text, and the environment that names the identity.
func secretsFixture(t *testing.T, text string) (dir, file string, environ []string) {
	t.Helper()
	dir = t.TempDir()
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	keys := filepath.Join(dir, "keys.txt")
	require.NoError(t, os.WriteFile(keys, []byte(id.String()+"\n"), 0o600))
	ct, err := agefile.Encrypt([]byte(text), []age.Recipient{id.Recipient()})
	require.NoError(t, err)
	file = filepath.Join(dir, "prod.vars.age")
	require.NoError(t, os.WriteFile(file, ct, 0o644))
	require.NoError(t, os.WriteFile(agefile.RecipientsPath(file), []byte(id.Recipient().String()+"\n"), 0o644))
	return dir, file, []string{agefile.IdentityEnv + "=" + keys, "TMPDIR=" + dir}
}

// TestDecryptRefusesTerminal pins that decrypt does not print secrets to
// a terminal unless --to-terminal says so, and writes nothing when it
// refuses.
func TestDecryptRefusesTerminal(t *testing.T) {
	_, file, environ := secretsFixture(t, "pw = \"s3cret\"\n")
	saved := outputIsTerminal
	outputIsTerminal = func(io.Writer) bool { return true }
	t.Cleanup(func() { outputIsTerminal = saved })

	var out, errOut bytes.Buffer
	stdio := IO{In: strings.NewReader(""), Out: &out, Err: &errOut, Environ: environ}
	require.Equal(t, ExitError, Run(context.Background(), []string{"secrets", "decrypt", file}, stdio))
	require.Empty(t, out.String())
	require.Contains(t, errOut.String(), "refusing to print secrets to a terminal")

	errOut.Reset()
	require.Equal(t, ExitOK, Run(context.Background(), []string{"secrets", "decrypt", "--to-terminal", file}, stdio), errOut.String())
	require.Equal(t, "pw = \"s3cret\"\n", out.String())
}

// TestEditAsksAgain pins the interactive path of edit: text that is not a
// var file is reported and, when the answer is yes, opened again as it
// was left, so nothing typed is lost; when it is no, nothing is written.
func TestEditAsksAgain(t *testing.T) {
	dir, file, environ := secretsFixture(t, "pw = \"s3cret\"\n")
	// The first run leaves a mistake, the second fixes it (the editor
	// sees the text as the first left it: the mistake is still there).
	editor := filepath.Join(dir, "editor.sh")
	require.NoError(t, os.WriteFile(editor, []byte(`if grep -q oops "$1"; then
  sed -i 's/oops/"fixed"/' "$1"
else
  printf 'more = oops\n' >> "$1"
fi
`), 0o644))
	environ = append(environ, "EDITOR=sh "+editor)
	before, err := os.ReadFile(file)
	require.NoError(t, err)

	var out, errOut bytes.Buffer
	stdio := IO{In: answers(t, "n\n"), Out: &out, Err: &errOut, Environ: environ}
	err = editSecrets(context.Background(), stdio, file, true)
	require.ErrorContains(t, err, "is not a valid var file; nothing was written")
	require.Equal(t, ExitConfig, exitCode(err))
	require.Contains(t, errOut.String(), "prod.vars.age:2:8: error: Variables not allowed")
	require.Contains(t, errOut.String(), "Edit again? [Y/n] ")
	after, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Equal(t, before, after)

	errOut.Reset()
	stdio.In = answers(t, "\n") // the default is yes
	require.NoError(t, editSecrets(context.Background(), stdio, file, true), errOut.String())
	ids, err := agefile.LoadIdentities(strings.TrimPrefix(environ[0], agefile.IdentityEnv+"="))
	require.NoError(t, err)
	ct, err := os.ReadFile(file)
	require.NoError(t, err)
	plain, err := agefile.Decrypt(ct, ids)
	require.NoError(t, err)
	require.Equal(t, "pw = \"s3cret\"\nmore = \"fixed\"\n", string(plain))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		require.False(t, strings.HasPrefix(e.Name(), "openim-deploy-edit-"), "temp directory %s left behind", e.Name())
	}
}

// answers is a file holding text, for stdin: the editor inherits it as it
// is, where a reader would be copied into its stdin, answers and all.
func answers(t *testing.T, text string) *os.File {
	t.Helper()
	p := filepath.Join(t.TempDir(), "answers")
	require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
	f, err := os.Open(p)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f
}

// TestPrivateTempDir pins where edit puts the plain text: $XDG_RUNTIME_DIR
// when it is a writable directory, else /dev/shm, else $TMPDIR.
func TestPrivateTempDir(t *testing.T) {
	run := t.TempDir()
	require.Equal(t, run, privateTempDir([]string{"XDG_RUNTIME_DIR=" + run, "TMPDIR=/elsewhere"}))
	want := "/elsewhere"
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		want = "/dev/shm"
	}
	require.Equal(t, want, privateTempDir([]string{"XDG_RUNTIME_DIR=" + filepath.Join(run, "missing"), "TMPDIR=/elsewhere"}))
}

// TestEncryptRefusesHugeInput pins that encrypt never encrypts a cut-off
// input: more than a var file could be is an error, and nothing is
// written.
func TestEncryptRefusesHugeInput(t *testing.T) {
	_, _, environ := secretsFixture(t, "x = 1\n")
	var out, errOut bytes.Buffer
	stdio := IO{In: bytes.NewReader(make([]byte, 16<<20+1)), Out: &out, Err: &errOut, Environ: environ}
	require.Equal(t, ExitConfig, Run(context.Background(), []string{"secrets", "encrypt"}, stdio))
	require.Empty(t, out.String())
	require.Contains(t, errOut.String(), "stdin holds more than 16 MiB")
}
