package phase

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/plan"
)

// Templates become per-host release artifacts with generated content: a
// template inside a file set's directory replaces that file, a sensitive
// one is secret, and the units that use them (all by default, or those
// naming them in files) restart when their text changes.
func TestBuildDesired_Templates(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"inv.hcl": `playbook = "pb.hcl"
host "a" {
  address = "10.0.0.1"
  vars    = { zone = "north" }
}
host "b" {
  address = "10.0.0.2"
  vars    = { zone = "south" }
}`,
		"pb.hcl": `variable "pw" {
  sensitive = true
  default   = "hunter2"
}
app "x" {}
files "config" {
  source = "config"
  hosts  = ["all"]
}
template "zone" {
  source      = "zone.tpl"
  destination = "config/zone.yml"
  hosts       = ["all"]
  mode        = "0640"
}
template "creds" {
  source      = "creds.tpl"
  destination = "secret/creds"
  hosts       = ["all"]
  sensitive   = true
  vars        = { pw = var.pw }
}
service "all-files" {
  binary = "s"
  hosts  = ["all"]
}
service "zone-only" {
  binary = "s"
  hosts  = ["all"]
  files  = ["zone"]
}`,
		"zone.tpl":        "zone: ${host.vars.zone}\n",
		"creds.tpl":       "pw=${pw} for ${host.name}\n",
		"config/zone.yml": "zone: unset\n",
		"config/other":    "x\n",
		"s":               "",
	}
	cfg := loadFiles(t, dir, files)

	local := NewLocalFiles()
	byRel := func(d plan.Desired) map[string]plan.Artifact {
		out := map[string]plan.Artifact{}
		for _, a := range d.Artifacts {
			out[a.Rel] = a
		}
		return out
	}
	hps := cfg.Placement()
	da, err := BuildDesiredFiles(cfg, hps[0], local)
	require.NoError(t, err)
	db, err := BuildDesiredFiles(cfg, hps[1], local)
	require.NoError(t, err)

	a, b := byRel(da), byRel(db)
	require.Equal(t, "zone: north\n", string(a["config/zone.yml"].Content))
	require.Equal(t, "zone: south\n", string(b["config/zone.yml"].Content))
	require.NotEqual(t, a["config/zone.yml"].SHA256, b["config/zone.yml"].SHA256)
	require.EqualValues(t, 0o640, a["config/zone.yml"].Mode)
	require.False(t, a["config/zone.yml"].Secret)
	require.Equal(t, filepath.Join(dir, "config", "other"), a["config/other"].Local, "the rest of the file set is still shipped")

	creds := a["secret/creds"]
	require.True(t, creds.Secret)
	require.EqualValues(t, 0o600, creds.Mode)
	require.Equal(t, "pw=hunter2 for a\n", string(creds.Content))
	require.Equal(t, "pw=hunter2 for b\n", string(b["secret/creds"].Content))
	require.True(t, slices.IsSortedFunc(da.Artifacts, func(x, y plan.Artifact) int { return strings.Compare(x.Rel, y.Rel) }))
	require.True(t, slices.IsSortedFunc(db.Artifacts, func(x, y plan.Artifact) int { return strings.Compare(x.Rel, y.Rel) }))

	// Both hosts run the same things: they share one desired state but
	// for their templates' files, and neither can write into the other's.
	require.Equal(t, "a", da.Host)
	require.Equal(t, "b", db.Host)
	require.Same(t, &da.Units[0], &db.Units[0], "built once for both hosts")
	require.Equal(t, da.UnitFiles, db.UnitFiles)
	require.Equal(t, len(da.UnitFiles), cap(da.UnitFiles), "an append copies")
	require.Equal(t, len(da.Units), cap(da.Units), "an append copies")

	// Under credential delivery, each host's sensitive template is its
	// own credential.
	ca, err := BuildDesired(cfg, hps[0], local)
	require.NoError(t, err)
	cb, err := BuildDesired(cfg, hps[1], local)
	require.NoError(t, err)
	require.Equal(t, "pw=hunter2 for a\n", string(byRel(ca)[".creds/files/secret/creds.cred"].Content))
	require.Equal(t, "pw=hunter2 for b\n", string(byRel(cb)[".creds/files/secret/creds.cred"].Content))
	require.NotContains(t, byRel(cb), "secret/creds", "no plain copy next to the credential")
	require.Equal(t, "zone: south\n", string(byRel(cb)["config/zone.yml"].Content))

	uses := map[string][]string{}
	for _, u := range da.Units {
		uses[u.Unit] = u.Uses
	}
	require.Equal(t, []string{"bin/s", "units/all-files@.service", "config/", "config/zone.yml", "secret/creds"}, uses["all-files"])
	require.Equal(t, []string{"bin/s", "units/zone-only@.service", "config/zone.yml"}, uses["zone-only"])
}

// loadFiles writes files (name to content, directories made as needed)
// into dir and loads dir/inv.hcl, which must load without errors.
func loadFiles(t *testing.T, dir string, files map[string]string) *config.Config {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	cfg, diags := config.Load(config.LoadOptions{InventoryPath: filepath.Join(dir, "inv.hcl")})
	require.False(t, diags.HasErrors(), diags.Error())
	return cfg
}
