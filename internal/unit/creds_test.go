package unit

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/shellcheck"
)

func TestCredentialScriptsPassShellcheck(t *testing.T) {
	shellcheck.Check(t, "scripts/*.sh", nil)
}

// credsPlacement is the OpenIM-like host with a sensitive template that
// openim-rpc-user reads and a plain one.
func credsPlacement() config.HostPlacement {
	hp := openimPlacement()
	hp.Templates = []*config.Template{
		{Name: "mongo", Destination: "config/mongodb.yml", Sensitive: true, Mode: 0o600, Content: []byte("password: " + mongoSecret + "\n")},
		{Name: "share", Destination: "config/share.yml", Mode: 0o644, Content: []byte("x: 1\n")},
	}
	for _, s := range hp.Services {
		if s.Name == "openim-rpc-user" {
			s.FilesSet, s.Files = true, []string{"mongo", "share"}
		} else {
			s.FilesSet, s.Files = true, nil
		}
	}
	return hp
}

// TestRenderCredentials: under credential delivery a unit with secret
// environment values runs the wrapper and loads them, and its sensitive
// templates, with LoadCredentialEncrypted= from the release; no unit names
// an EnvironmentFile=, and no value is in any unit.
func TestRenderCredentials(t *testing.T) {
	files, err := RenderCredentials(openimApp(), credsPlacement())
	require.NoError(t, err)
	var user string
	for _, f := range files {
		text := string(f.Content)
		require.NotContains(t, text, "EnvironmentFile=", f.Name)
		require.NotContains(t, text, mongoSecret, f.Name)
		require.NotContains(t, text, redisSecret, f.Name)
		if f.Name == TemplateName("openim-rpc-user") {
			user = text
		}
	}
	require.Contains(t, user, "\nExecStart=/opt/openim/current/.creds/run bin/openim-rpc-user -i %i -c config\n")
	require.Contains(t, user, "\nLoadCredentialEncrypted=openim-deploy-env:/opt/openim/current/.creds/env/openim-rpc-user.cred\n")
	require.Contains(t, user, "\nLoadCredentialEncrypted=mongodb.yml:/opt/openim/current/.creds/files/config/mongodb.yml.cred\n")
	require.NotContains(t, user, "share.yml")

	// A service with neither runs its binary directly, as under file
	// delivery.
	plain, err := Render(openimApp(), credsPlacement())
	require.NoError(t, err)
	for i, f := range files {
		if f.Name == TemplateName("openim-api") {
			require.Equal(t, string(plain[i].Content), string(f.Content))
		}
	}
}

// TestDropInCredentials: the drop-in pins the wrapper and the credentials
// to the release, and DropInFromTemplate derives it byte for byte from the
// unit text the release keeps (rollback).
func TestDropInCredentials(t *testing.T) {
	hp := credsPlacement()
	files, err := RenderCredentials(openimApp(), hp)
	require.NoError(t, err)
	for _, s := range hp.Services {
		creds, err := Credentials(&s.Unit, hp)
		require.NoError(t, err)
		want, err := DropInCredentials(openimApp(), &s.Unit, true, "r-1", append([]Credential{}, creds...))
		require.NoError(t, err)
		var text []byte
		for _, f := range files {
			if f.Name == TemplateName(s.Name) {
				text = f.Content
			}
		}
		got, err := DropInFromTemplate(openimApp(), text, "r-1")
		require.NoError(t, err)
		require.Equal(t, string(want), string(got), s.Name)
		require.NotContains(t, string(got), "/current", s.Name)
		if s.Name == "openim-rpc-user" {
			require.Contains(t, string(got), "\nExecStart=\nExecStart=/opt/openim/releases/r-1/.creds/run bin/openim-rpc-user ")
			require.Contains(t, string(got), "\nLoadCredentialEncrypted=\nLoadCredentialEncrypted=openim-deploy-env:/opt/openim/releases/r-1/.creds/env/openim-rpc-user.cred\n")
		}
	}
}

// TestCredentials_SameFileName: two sensitive templates a unit reads may
// not share a file name, the name of their credentials.
func TestCredentials_SameFileName(t *testing.T) {
	hp := credsPlacement()
	hp.Templates = append(hp.Templates, &config.Template{Name: "mongo2", Destination: "other/mongodb.yml", Sensitive: true})
	for _, s := range hp.Services {
		s.FilesSet = false
	}
	_, err := RenderCredentials(openimApp(), hp)
	require.ErrorContains(t, err, `its credential "mongodb.yml" is also template mongo's`)
}

// TestCredRun_ExportsAndExecs runs the wrapper with sh as systemd would:
// a credentials directory holding the unit's env file, the binary next to
// the wrapper's release. Every value arrives byte for byte; without the
// credential it refuses with 64.
func TestCredRun_ExportsAndExecs(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	rel := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(rel, ".creds"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(rel, "bin"), 0o755))
	run := filepath.Join(rel, ".creds", "run")
	require.NoError(t, os.WriteFile(run, CredRun, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(rel, "bin", "svc"), []byte("#!/bin/sh\nprintf '%s\\n' \"$@\"\nexec env -0\n"), 0o755))
	env := map[string]string{"A": mongoSecret, "B": redisSecret, "C": "", "D": `\n \x \\ \$`, "E": "line1\nline2", "F": "$(id) ${X} `id`"}
	creds := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(creds, CredEnvName), EnvFile(&config.Unit{SecretEnvironment: env}), 0o400))

	cmd := exec.CommandContext(t.Context(), sh, run, "bin/svc", "-i", "0")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "CREDENTIALS_DIRECTORY=" + creds}
	out, err := cmd.Output()
	require.NoError(t, err)
	args, rest, ok := strings.Cut(string(out), "0\n")
	require.True(t, ok, "%q", out)
	require.Equal(t, "-i\n", args)
	got := map[string]string{}
	for _, kv := range strings.Split(rest, "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok && len(k) == 1 {
			got[k] = v
		}
	}
	require.Equal(t, env, got)

	cmd = exec.CommandContext(t.Context(), sh, run, "bin/svc")
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	err = cmd.Run()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, 64, ee.ExitCode())
}
