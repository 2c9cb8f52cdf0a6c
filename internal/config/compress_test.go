package config

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLoad_Compress pins the app block's compress setting: "auto" when
// unset, each accepted value as written, and anything else an error at
// the attribute's file:line:col that lists what is accepted.
func TestLoad_Compress(t *testing.T) {
	for _, tt := range []struct {
		attr string
		want Compress
	}{
		{"", CompressAuto},
		{`compress = "auto"`, CompressAuto},
		{`compress = "always"`, CompressAlways},
		{`compress = "never"`, CompressNever},
	} {
		t.Run(string(tt.want)+"/"+tt.attr, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{
				"inv.hcl": `host "a" { address = "10.0.0.1" }`,
				"pb.hcl":  "app \"x\" {\n  " + tt.attr + "\n}\nservice \"s\" {\n  binary = \"s\"\n  hosts = [\"all\"]\n}\n",
				"s":       "",
			})
			cfg, diags := Load(LoadOptions{InventoryPath: filepath.Join(dir, "inv.hcl"), PlaybookPath: filepath.Join(dir, "pb.hcl")})
			require.Empty(t, diags, renderDiags(t, cfg, diags))
			require.Equal(t, tt.want, cfg.Playbook.App.Compress)
		})
	}

	t.Run("bad value", func(t *testing.T) {
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{
			"inv.hcl": `host "a" { address = "10.0.0.1" }`,
			"pb.hcl":  "app \"x\" {\n  compress = \"fast\"\n}\nservice \"s\" {\n  binary = \"s\"\n  hosts = [\"all\"]\n}\n",
			"s":       "",
		})
		_, diags := Load(LoadOptions{InventoryPath: filepath.Join(dir, "inv.hcl"), PlaybookPath: filepath.Join(dir, "pb.hcl")})
		require.Len(t, diags, 1)
		d := diags[0]
		require.Equal(t, "Invalid compress", d.Summary)
		require.Equal(t, `compress = "fast": must be one of "auto", "always", "never".`, d.Detail)
		require.NotNil(t, d.Subject)
		require.Equal(t, filepath.Join(dir, "pb.hcl"), d.Subject.Filename)
		require.Equal(t, [2]int{2, 3}, [2]int{d.Subject.Start.Line, d.Subject.Start.Column})
	})
}

// TestParseCompress pins the values the --compress flag accepts: the
// playbook's, and nothing else.
func TestParseCompress(t *testing.T) {
	for _, s := range []string{"auto", "always", "never"} {
		c, err := ParseCompress(s)
		require.NoError(t, err)
		require.Equal(t, Compress(s), c)
	}
	for _, s := range []string{"", "Auto", "gzip", "yes"} {
		_, err := ParseCompress(s)
		require.Error(t, err, s)
	}
}
