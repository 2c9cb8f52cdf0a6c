package unit

import (
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/layout"
	"github.com/openimsdk/openim-deploy/internal/probe"
)

// fakeRoot lays out a directory that systemd-analyze --root= treats as the
// host: the rendered units in /etc/systemd/system, stub system units, an
// executable for every ExecStart= binary and a passwd entry for User=.
func fakeRoot(t *testing.T, app config.App, hp config.HostPlacement, files []File) string {
	t.Helper()
	root := t.TempDir()
	write := func(p string, data []byte, mode os.FileMode) {
		full := filepath.Join(root, filepath.FromSlash(p))
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		require.NoError(t, os.WriteFile(full, data, mode))
	}
	for _, f := range files {
		write(layout.UnitPath(f.Name), f.Content, 0o644)
	}
	// Stubs for the units systemd's default dependencies and ours reference
	// outside the rendered set. Stubs instead of the host's own unit
	// directory keep the test hermetic; verify names any that is missing.
	for _, u := range []string{"sysinit.target", "basic.target", "shutdown.target", "multi-user.target", "network-online.target"} {
		write(path.Join("/usr/lib/systemd/system", u), []byte("[Unit]\nDescription=stub "+u+"\n"), 0o644)
	}
	lay := layout.Layout{Root: app.Root}
	var units []*config.Unit
	for _, task := range hp.Tasks {
		units = append(units, &task.Unit)
	}
	for _, s := range hp.Services {
		units = append(units, &s.Unit)
	}
	for _, u := range units {
		write(lay.CurrentBin(u.Binary), []byte("#!/bin/sh\nexit 0\n"), 0o755)
		if env := EnvFile(u); env != nil {
			write(lay.CurrentEnvFile(u.Name), env, 0o600)
		}
	}
	// The readiness probe, under every name %a expands to: verify checks
	// ExecStartPost='s binary as the host's systemd resolves it.
	for _, arch := range probe.Arches {
		write(filepath.Join(lay.Current(), probe.Rel(arch)), []byte("#!/bin/sh\nexit 0\n"), 0o755)
	}
	write("/etc/passwd", []byte("root:x:0:0:root:/root:/bin/sh\n"+app.User+":x:999:999::/nonexistent:/usr/sbin/nologin\n"), 0o644)
	write("/etc/group", []byte("root:x:0:\n"+app.User+":x:999:\n"), 0o644)
	return root
}

// verify runs systemd-analyze verify on units inside root and returns its
// combined output. verify exits 0 on warnings, so callers judge the output.
func verify(t *testing.T, root string, units ...string) (string, error) {
	t.Helper()
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	args := append([]string{"verify", "--root=" + root}, units...)
	cmd := exec.CommandContext(t.Context(), sa, args...)
	// Pin the log level: an inherited SYSTEMD_LOG_LEVEL=err would hide the
	// warnings this test exists to catch.
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=info", "SYSTEMD_LOG_COLOR=0", "SYSTEMD_PAGER=")
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// TestRender_SystemdAnalyzeVerify pins that every rendered unit, with each
// template instantiated, passes systemd-analyze verify without a single
// line of output: no unknown keys, bad escapes, missing binaries or
// dangling dependencies.
func TestRender_SystemdAnalyzeVerify(t *testing.T) {
	app, hp := openimApp(), openimPlacement()
	files, err := Render(app, hp)
	require.NoError(t, err)
	root := fakeRoot(t, app, hp, files)
	units := append(Instances(hp), TargetName(app.Name))
	out, err := verify(t, root, units...)
	require.NoError(t, err, out)
	require.Empty(t, out, "systemd-analyze verify warned")
}

// TestVerifyHarness_ReportsWarnings guards the test above against passing
// vacuously: the same harness must see an unknown key and a missing binary.
func TestVerifyHarness_ReportsWarnings(t *testing.T) {
	app, hp := openimApp(), openimPlacement()
	files, err := Render(app, hp)
	require.NoError(t, err)
	for i, f := range files {
		if f.Name == TemplateName("openim-push") {
			files[i].Content = []byte(strings.Replace(string(f.Content), "[Service]\n", "[Service]\nNoSuchKey=1\n", 1))
		}
	}
	root := fakeRoot(t, app, hp, files)
	require.NoError(t, os.Remove(filepath.Join(root, "opt/openim/current/bin/openim-api")))
	out, _ := verify(t, root, InstanceName("openim-push", "0"), InstanceName("openim-api", "0"))
	require.Contains(t, out, "NoSuchKey")
	require.Contains(t, out, "openim-api")
}
