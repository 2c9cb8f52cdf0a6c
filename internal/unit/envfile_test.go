package unit

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/config"
)

// TestEnvFile_ShellReadsValuesBack pins the EnvironmentFile= escaping by
// sourcing the file with /bin/sh, whose double-quote rules systemd's
// env-file parser copies (\ escapes only " \ ` $; newlines are literal).
func TestEnvFile_ShellReadsValuesBack(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	env := map[string]string{
		"A": mongoSecret, "B": redisSecret, "C": "", "D": `\n \x \\ \$`, "E": " spaced ", "F": "$(id) ${X}",
	}
	file := filepath.Join(t.TempDir(), "x.env")
	require.NoError(t, os.WriteFile(file, EnvFile(&config.Unit{SecretEnvironment: env}), 0o600))
	cmd := exec.CommandContext(t.Context(), sh, "-c", `set -a; . "$1"; exec env -0`, "sh", file)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	out, err := cmd.Output()
	require.NoError(t, err)
	got := map[string]string{}
	for _, kv := range strings.Split(string(out), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok && len(k) == 1 {
			got[k] = v
		}
	}
	require.Equal(t, env, got)
}

// TestEnvFile_Format pins the line format, sorting and nil for no secrets.
func TestEnvFile_Format(t *testing.T) {
	got := string(EnvFile(&config.Unit{SecretEnvironment: map[string]string{"B": `"x"`, "A": "1"}}))
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	require.Equal(t, []string{`A="1"`, `B="\"x\""`}, lines[1:])
	require.True(t, strings.HasPrefix(lines[0], "# "))
	require.Nil(t, EnvFile(&config.Unit{}))
}
