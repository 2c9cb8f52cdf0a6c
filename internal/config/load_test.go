package config

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/rogpeppe/go-internal/txtar"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// testHome is what ~ expands to in every test, so goldens are stable.
const testHome = "/home/tester"

// The archive comment of a fixture holds load options, one per line:
//
//	var: name=value      -var
//	env: NAME=value      an Environ entry
//	varfile: path        -var-file
//	playbook: path       -p
//	skip-playbook
//	secrets: exec        run secret commands (ExecSecret); else none run

// loadFixture extracts archive into a fresh directory, makes it the working
// directory, and loads inventory.hcl from it.
func loadFixture(t *testing.T, archive string) (*Config, hcl.Diagnostics, string) {
	t.Helper()
	opts, dir, _ := prepareFixture(t, archive)
	cfg, diags := Load(opts)
	return cfg, diags, dir
}

// prepareFixture extracts archive into a fresh directory, makes it the
// working directory, and returns the load options its comment gives.
func prepareFixture(t *testing.T, archive string) (LoadOptions, string, *txtar.Archive) {
	t.Helper()
	ar, err := txtar.ParseFile(archive)
	require.NoError(t, err)
	dir := t.TempDir()
	for _, f := range ar.Files {
		p := filepath.Join(dir, f.Name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, f.Data, 0o644))
	}
	opts := LoadOptions{InventoryPath: "inventory.hcl", Vars: map[string]string{}, HomeDir: testHome}
	for _, line := range strings.Split(string(ar.Comment), "\n") {
		key, val, _ := strings.Cut(strings.TrimSpace(line), ":")
		val = strings.TrimSpace(val)
		switch key {
		case "var":
			k, v, _ := strings.Cut(val, "=")
			opts.Vars[k] = v
		case "env":
			opts.Environ = append(opts.Environ, val)
		case "varfile":
			opts.VarFiles = append(opts.VarFiles, val)
		case "playbook":
			opts.PlaybookPath = val
		case "skip-playbook":
			opts.SkipPlaybook = true
		case "secrets":
			if val == "exec" {
				opts.SecretRunner = ExecSecret
			}
		}
	}
	t.Chdir(dir)
	return opts, dir, ar
}

// scrub replaces the temp directory with $WORK so goldens do not depend on it.
func scrub(s, dir string) string {
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		s = strings.ReplaceAll(s, real, "$WORK")
	}
	return strings.ReplaceAll(s, dir, "$WORK")
}

// golden compares got with the file at path, or rewrites it under -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create it")
	require.Equal(t, string(want), got, "golden %s differs; rerun with -update if the change is intended", path)
}

func renderDiags(t *testing.T, cfg *Config, diags hcl.Diagnostics) string {
	t.Helper()
	var buf bytes.Buffer
	w := hcl.NewDiagnosticTextWriter(&buf, cfg.Files, 0, false)
	require.NoError(t, w.WriteDiagnostics(diags))
	return buf.String()
}

func fixtures(t *testing.T, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(pattern)
	require.NoError(t, err)
	require.NotEmpty(t, files)
	return files
}

// TestLoad_Bad pins the diagnostics of every invalid fixture: each
// testdata/bad/*.txtar renders, with source snippets, to the .diag next to it.
func TestLoad_Bad(t *testing.T) {
	wd, err := os.Getwd()
	require.NoError(t, err)
	for _, archive := range fixtures(t, "testdata/bad/*.txtar") {
		name := strings.TrimSuffix(filepath.Base(archive), ".txtar")
		t.Run(name, func(t *testing.T) {
			cfg, diags, dir := loadFixture(t, filepath.Join(wd, archive))
			require.NotNil(t, cfg)
			require.NotEmpty(t, diags, "a bad fixture must produce diagnostics")
			for _, d := range diags {
				if d.Subject != nil {
					require.NotEmpty(t, d.Subject.Filename, "%s: subject without file", d.Summary)
				}
			}
			golden(t, filepath.Join(wd, "testdata/bad", name+".diag"), scrub(renderDiags(t, cfg, diags), dir))
		})
	}
}

// TestLoad_Good pins the decoded form of every valid fixture: defaults,
// inheritance, per-instance health, placement, waves and secrets.
func TestLoad_Good(t *testing.T) {
	wd, err := os.Getwd()
	require.NoError(t, err)
	for _, archive := range fixtures(t, "testdata/good/*.txtar") {
		name := strings.TrimSuffix(filepath.Base(archive), ".txtar")
		t.Run(name, func(t *testing.T) {
			cfg, diags, dir := loadFixture(t, filepath.Join(wd, archive))
			require.False(t, diags.HasErrors(), renderDiags(t, cfg, diags))
			got := renderDiags(t, cfg, diags) + dump(cfg)
			golden(t, filepath.Join(wd, "testdata/good", name+".golden"), scrub(got, dir))
		})
	}
}
