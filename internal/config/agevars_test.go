package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/agefile"
)

// TestLoad_Age pins encrypted var files: each testdata/age/*.txtar is
// loaded after its *.plain files are encrypted, with a key made for the
// run, to the same name without .plain; keys.txt holds that key and
// other.txt another. A comment line "mangle: truncate FILE" or "mangle:
// tamper FILE" writes FILE as binary age and damages it. The diagnostics,
// and the decoded form when there are no errors, match the .golden beside
// the archive. Every secret in the fixtures contains "s3cret", which must
// appear in no diagnostic, and no decrypted file may reach Config.Files.
func TestLoad_Age(t *testing.T) {
	wd, err := os.Getwd()
	require.NoError(t, err)
	for _, archive := range fixtures(t, "testdata/age/*.txtar") {
		name := strings.TrimSuffix(filepath.Base(archive), ".txtar")
		t.Run(name, func(t *testing.T) {
			opts, dir, ar := prepareFixture(t, filepath.Join(wd, archive))
			mine := writeIdentity(t, filepath.Join(dir, "keys.txt"))
			writeIdentity(t, filepath.Join(dir, "other.txt"))
			mangle := map[string]string{}
			for _, line := range strings.Split(string(ar.Comment), "\n") {
				if rest, ok := strings.CutPrefix(line, "mangle: "); ok {
					how, file, _ := strings.Cut(rest, " ")
					mangle[file] = how
				}
			}
			for _, f := range ar.Files {
				out, ok := strings.CutSuffix(f.Name, ".plain")
				if !ok {
					continue
				}
				require.NoError(t, os.Remove(filepath.Join(dir, f.Name)))
				require.NoError(t, os.WriteFile(filepath.Join(dir, out), encryptFixture(t, f.Data, mine, mangle[out]), 0o644))
			}

			cfg, diags := Load(opts)
			text := renderDiags(t, cfg, diags)
			require.NotContains(t, text, "s3cret")
			for file := range cfg.Files {
				require.False(t, agefile.IsEncrypted(file), "decrypted text of %s in Config.Files", file)
			}
			if strings.HasPrefix(name, "good") {
				require.False(t, diags.HasErrors(), text)
				text += dump(cfg)
			} else {
				require.True(t, diags.HasErrors(), "a bad fixture must fail")
			}
			golden(t, filepath.Join(wd, "testdata/age", name+".golden"), scrub(text, dir))
		})
	}
}

// writeIdentity writes a new age identity file and returns its key.
func writeIdentity(t *testing.T, path string) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, []byte(id.String()+"\n"), 0o600))
	return id
}

// encryptFixture encrypts plain to id: armored, or binary and then
// truncated or changed in one bit of its payload.
func encryptFixture(t *testing.T, plain []byte, id *age.X25519Identity, mangle string) []byte {
	t.Helper()
	if mangle == "" {
		ct, err := agefile.Encrypt(plain, []age.Recipient{id.Recipient()})
		require.NoError(t, err)
		return ct
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, id.Recipient())
	require.NoError(t, err)
	_, err = w.Write(plain)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	ct := buf.Bytes()
	switch mangle {
	case "truncate":
		return ct[:len(ct)-10]
	case "tamper":
		ct[len(ct)-10] ^= 1
		return ct
	}
	t.Fatalf("unknown mangle %q", mangle)
	return nil
}
