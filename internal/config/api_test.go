package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// writeFiles writes name -> content under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
}

// TestLoad_VariablePrecedence pins the order of variable sources, lowest
// first: default, OPENIM_DEPLOY_VAR_<name>, -var-file (later files win), -var.
func TestLoad_VariablePrecedence(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"inv.hcl": `playbook = "pb.hcl"
host "a" { address = "10.0.0.1" }`,
		"pb.hcl": `variable "v" { default = "default" }
app "x" {}
service "s" {
  binary      = "s"
  hosts       = ["all"]
  environment = { V = var.v }
}`,
		"s":      "",
		"f1.hcl": `v = "file1"`,
		"f2.hcl": `v = "file2"`,
	})
	env := []string{"PATH=/bin", EnvVarPrefix + "v=env"}
	tests := []struct {
		name     string
		environ  []string
		varFiles []string
		vars     map[string]string
		want     string
	}{
		{"default", nil, nil, nil, "default"},
		{"env over default", env, nil, nil, "env"},
		{"var file over env", env, []string{"f1.hcl"}, nil, "file1"},
		{"later var file wins", env, []string{"f1.hcl", "f2.hcl"}, nil, "file2"},
		{"-var over everything", env, []string{"f1.hcl"}, map[string]string{"v": "cli"}, "cli"},
		{"-var over default", nil, nil, map[string]string{"v": "cli"}, "cli"},
		{"empty -var is a value", env, nil, map[string]string{"v": ""}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var files []string
			for _, f := range tt.varFiles {
				files = append(files, filepath.Join(dir, f))
			}
			cfg, diags := Load(LoadOptions{InventoryPath: filepath.Join(dir, "inv.hcl"),
				Environ: tt.environ, VarFiles: files, Vars: tt.vars})
			require.Empty(t, diags, renderDiags(t, cfg, diags))
			require.Equal(t, tt.want, cfg.Playbook.Variables[0].Value)
			require.Equal(t, tt.want, cfg.Playbook.Services[0].Environment["V"])
		})
	}
}

// TestLoad_SyntaxErrorKeepsFiles pins that a failed Load still returns the
// parsed files, so the CLI can render snippets.
func TestLoad_SyntaxErrorKeepsFiles(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"inv.hcl": `host "a" {`})
	p := filepath.Join(dir, "inv.hcl")
	cfg, diags := Load(LoadOptions{InventoryPath: p})
	require.True(t, diags.HasErrors())
	require.NotNil(t, cfg)
	require.Contains(t, cfg.Files, p)
}

// TestLoad_HealthPerInstance pins that health expressions are evaluated
// once per instance with instance.index and instance.name.
func TestLoad_HealthPerInstance(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"inv.hcl": `host "a" { address = "10.0.0.1" }`,
		"pb.hcl": `app "x" {}
service "s" {
  binary    = "s"
  hosts     = ["all"]
  instances = ["x", "y"]
  health {
    http    = "http://127.0.0.1:${9000 + instance.index * 2}/${instance.name}"
    retries = 10 + instance.index
  }
}`,
		"s": "",
	})
	cfg, diags := Load(LoadOptions{InventoryPath: filepath.Join(dir, "inv.hcl"), PlaybookPath: filepath.Join(dir, "pb.hcl")})
	require.Empty(t, diags, renderDiags(t, cfg, diags))
	want := []Instance{
		{Name: "x", Index: 0, Health: Health{HTTP: "http://127.0.0.1:9000/x", Ports: []int{9000},
			Interval: time.Second, Timeout: 2 * time.Second, Retries: 10, Stable: 5 * time.Second}},
		{Name: "y", Index: 1, Health: Health{HTTP: "http://127.0.0.1:9002/y", Ports: []int{9002},
			Interval: time.Second, Timeout: 2 * time.Second, Retries: 11, Stable: 5 * time.Second}},
	}
	require.Equal(t, want, cfg.Playbook.Services[0].Instances)
}

// handBuilt is a Config as a test elsewhere might build it: no ranges.
func handBuilt() *Config {
	unit := func(name string, hosts, deps []string) Unit {
		return Unit{Name: name, Hosts: hosts, DependsOn: deps}
	}
	a := &Host{Name: "a", Groups: []string{"app", "edge"}}
	b := &Host{Name: "b", Groups: []string{"app"}}
	c := &Host{Name: "c", Groups: []string{"db"}}
	return &Config{
		Inventory: &Inventory{Hosts: []*Host{a, b, c}},
		Playbook: &Playbook{
			FileSets: []*FileSet{{Name: "conf", Hosts: []string{"app"}}, {Name: "motd", Hosts: []string{"all"}}},
			Tasks:    []*Task{{Unit: unit("gate", []string{"all"}, nil)}},
			Services: []*Service{
				{Unit: unit("db", []string{"db"}, []string{"gate"})},
				{Unit: unit("api", []string{"app"}, []string{"db", "gate", "unknown"})},
				{Unit: unit("edge", []string{"edge", "a"}, []string{"gate"})},
			},
		},
		Secrets: []string{"hunter22", "hunter2"},
	}
}

// TestPlacement pins inventory order for hosts and playbook order inside.
func TestPlacement(t *testing.T) {
	c := handBuilt()
	names := func(hp HostPlacement) (fs, ts, ss []string) {
		for _, f := range hp.FileSets {
			fs = append(fs, f.Name)
		}
		for _, x := range hp.Tasks {
			ts = append(ts, x.Name)
		}
		for _, x := range hp.Services {
			ss = append(ss, x.Name)
		}
		return
	}
	hps := c.Placement()
	require.Len(t, hps, 3)
	fs, ts, ss := names(hps[0])
	require.Equal(t, []string{"conf", "motd"}, fs)
	require.Equal(t, []string{"gate"}, ts)
	require.Equal(t, []string{"api", "edge"}, ss)
	fs, _, ss = names(hps[2])
	require.Equal(t, []string{"motd"}, fs)
	require.Equal(t, []string{"db"}, ss)

	require.Equal(t, []*Host{c.Inventory.Hosts[0], c.Inventory.Hosts[1]}, c.SelectHosts([]string{"b", "edge", "app", "a"}))
	require.Len(t, c.SelectHosts([]string{"all"}), 3)
	require.Empty(t, c.SelectHosts(nil))
}

func TestUnitByNameAndFilesOn(t *testing.T) {
	c := handBuilt()
	u, ok := c.Playbook.UnitByName("gate")
	require.True(t, ok)
	require.Same(t, &c.Playbook.Tasks[0].Unit, u)
	u, ok = c.Playbook.UnitByName("api")
	require.True(t, ok)
	require.Same(t, &c.Playbook.Services[1].Unit, u)
	_, ok = c.Playbook.UnitByName("nope")
	require.False(t, ok)

	hp := c.Placement()[0]
	require.Equal(t, hp.FileSets, u.FilesOn(hp), "files unset: every file set on the host")
	u.Files, u.FilesSet = []string{"motd"}, true
	require.Equal(t, []*FileSet{c.Playbook.FileSets[1]}, u.FilesOn(hp))
	u.Files = nil
	require.Empty(t, u.FilesOn(hp), "files = []: no file set restarts it")
}

// TestWaves pins grouping by depth, declaration order inside a wave, and
// that unknown dependencies and cycles cannot hang or break it.
func TestWaves(t *testing.T) {
	c := handBuilt()
	require.Equal(t, [][]string{{"gate"}, {"db", "edge"}, {"api"}}, c.Playbook.Waves())

	c.Playbook.Tasks[0].DependsOn = []string{"api"} // a cycle, which Load rejects
	require.NotPanics(t, func() { c.Playbook.Waves() })
	require.Empty(t, (&Playbook{}).Waves())
}

func TestRedact(t *testing.T) {
	c := handBuilt()
	require.Equal(t, "pw=*** and ***", c.Redact("pw=hunter22 and hunter2"))
	require.Equal(t, "nothing", (&Config{}).Redact("nothing"))
}

// TestLoad_HostFreeBlocksShared: a block that never mentions host is
// decoded once and its value shared by every host it is placed on; one
// that mentions host, even in a nested block, gets its own value per host.
func TestLoad_HostFreeBlocksShared(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"inv.hcl": `host "a" { address = "10.0.0.1" }
host "b" { address = "10.0.0.2" }
host "c" { address = "10.0.0.3" }`,
		"pb.hcl": `app "x" {}
service "same" {
  binary = "s"
  hosts  = ["all"]
  environment = { MODE = "prod" }
}
service "own" {
  binary = "s"
  hosts  = ["all"]
  health { http = "http://${host.address}:9000/" }
}
task "t" {
  binary = "s"
  hosts  = ["all"]
}`,
		"s": "",
	})
	cfg, diags := Load(LoadOptions{InventoryPath: filepath.Join(dir, "inv.hcl"), PlaybookPath: filepath.Join(dir, "pb.hcl")})
	require.Empty(t, diags, renderDiags(t, cfg, diags))
	hps := cfg.Placement()
	require.Len(t, hps, 3)
	for _, hp := range hps[1:] {
		require.Same(t, hps[0].Services[0], hp.Services[0], "service without host on %s", hp.Host.Name)
		require.Same(t, hps[0].Tasks[0], hp.Tasks[0], "task without host on %s", hp.Host.Name)
		require.NotSame(t, hps[0].Services[1], hp.Services[1], "service with host on %s", hp.Host.Name)
	}
	for _, hp := range hps {
		require.Equal(t, "prod", hp.Services[0].Environment["MODE"])
		require.Equal(t, "http://"+hp.Host.Address+":9000/", hp.Services[1].Instances[0].Health.HTTP)
	}
}
