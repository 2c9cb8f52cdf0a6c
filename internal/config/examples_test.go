package config

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/stretchr/testify/require"
)

// exampleEnv prepares what the example playbook at path needs to load on
// any machine: an empty stub for every task and service binary (named after
// its block, as "${var.bin_dir}/<name>"), an empty config directory, and a
// value for every variable without a default (sensitive ones included),
// all passed through the environment as an operator would.
func exampleEnv(t *testing.T, path string) []string {
	t.Helper()
	f, diags := hclparse.NewParser().ParseHCLFile(path)
	require.False(t, diags.HasErrors(), diags.Error())
	bin, conf := t.TempDir(), t.TempDir()
	env := []string{EnvVarPrefix + "bin_dir=" + bin, EnvVarPrefix + "config_dir=" + conf}
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		switch b.Type {
		case "task", "service":
			require.NoError(t, os.WriteFile(filepath.Join(bin, b.Labels[0]), nil, 0o755))
		case "variable":
			if _, ok := b.Body.Attributes["default"]; !ok {
				env = append(env, EnvVarPrefix+b.Labels[0]+"=test-secret-"+b.Labels[0])
			}
		}
	}
	return env
}

// TestExamples loads every shipped inventory and playbook, so the examples
// cannot drift from the language. Each inventory loads with the playbook it
// names; a playbook no inventory names loads with prod.example.hcl. They
// must also be formatted as hclwrite formats them.
func TestExamples(t *testing.T) {
	inventories, err := filepath.Glob("../../inventory/*.hcl")
	require.NoError(t, err)
	playbooks, err := filepath.Glob("../../playbooks/*.hcl")
	require.NoError(t, err)
	require.NotEmpty(t, inventories)
	require.NotEmpty(t, playbooks)

	for _, p := range slices.Concat(inventories, playbooks) {
		src, err := os.ReadFile(p)
		require.NoError(t, err)
		require.Equal(t, string(hclwrite.Format(src)), string(src), "%s is not formatted like hclwrite.Format", p)
	}

	named := map[string]bool{}
	for _, inv := range inventories {
		t.Run(filepath.Base(inv), func(t *testing.T) {
			cfg, diags := Load(LoadOptions{InventoryPath: inv, SkipPlaybook: true, HomeDir: testHome})
			requireClean(t, cfg, diags)
			if pb := cfg.Inventory.Playbook; pb != "" {
				named[filepath.Clean(pb)] = true
				cfg, diags = Load(LoadOptions{InventoryPath: inv, Environ: exampleEnv(t, pb), HomeDir: testHome})
				requireClean(t, cfg, diags)
			}
		})
	}
	for _, pb := range playbooks {
		if named[filepath.Clean(pb)] {
			continue
		}
		t.Run(filepath.Base(pb), func(t *testing.T) {
			cfg, diags := Load(LoadOptions{InventoryPath: "../../inventory/prod.example.hcl", PlaybookPath: pb,
				Environ: exampleEnv(t, pb), HomeDir: testHome})
			requireClean(t, cfg, diags)
		})
	}
}

func requireClean(t *testing.T, cfg *Config, diags hcl.Diagnostics) {
	t.Helper()
	require.Empty(t, diags, renderDiags(t, cfg, diags))
}

// TestExamples_OpenIM pins what the OpenIM playbook means on the example
// fleet: 11 services and 2 gates on each of the 3 app hosts plus crontask
// on the first, v3.8.3 ports, infra addresses rendered from the infra
// group, and dependency waves that keep the rpc services free of edges.
func TestExamples_OpenIM(t *testing.T) {
	pb := "../../playbooks/openim.hcl"
	cfg, diags := Load(LoadOptions{InventoryPath: "../../inventory/prod.example.hcl",
		Environ: exampleEnv(t, pb), HomeDir: testHome})
	requireClean(t, cfg, diags)

	require.Equal(t, App{Name: "openim", Root: "/opt/openim", User: "openim", KeepReleases: 5, Compress: CompressAuto}, cfg.Playbook.App)
	require.Len(t, cfg.Playbook.Services, 12)
	require.Len(t, cfg.Playbook.Tasks, 2)
	require.Equal(t, []string{"test-secret-minio_secret_key", "test-secret-mongo_password", "test-secret-redis_password"}, cfg.Secrets)

	var placed, cron []string
	for _, hp := range cfg.Placement() {
		if len(hp.Services) == 0 {
			continue
		}
		placed = append(placed, hp.Host.Name)
		require.Len(t, hp.Tasks, 2)
		if _, ok := hp.ServiceOn("openim-crontask"); ok {
			cron = append(cron, hp.Host.Name)
			require.Len(t, hp.Services, 12)
		} else {
			require.Len(t, hp.Services, 11)
		}
		files := map[string]string{}
		for _, tpl := range hp.Templates {
			require.False(t, tpl.Sensitive)
			files[tpl.Destination] = string(tpl.Content)
		}
		require.Contains(t, files["config/discovery.yml"], "address: [ 10.0.1.21:12379, 10.0.1.22:12379 ]")
		require.Contains(t, files["config/mongodb.yml"], "address: [ 10.0.1.21:37017, 10.0.1.22:27017 ]")
		require.Contains(t, files["config/redis.yml"], "address: [ 10.0.1.21:16379 ]")
		require.Contains(t, files["config/kafka.yml"], "address: [ 10.0.1.21:19094, 10.0.1.22:19094 ]")
		require.Contains(t, files["config/minio.yml"], "internalAddress: 10.0.1.21:10005\nexternalAddress: http://10.0.1.21:10005\n")
		require.Contains(t, files["config/discovery.yml"], "# "+hp.Host.Name+": the etcd members")
		for _, text := range files {
			require.NotContains(t, text, "test-secret")
		}
		api, _ := hp.ServiceOn("openim-api")
		require.Len(t, api.SecretEnvironment, 3)
	}
	require.Equal(t, []string{"im-1", "im-2", "im-3"}, placed)
	require.Equal(t, []string{"im-1"}, cron)

	ports := map[string][]int{}
	for _, s := range cfg.Playbook.Services {
		for _, in := range s.Instances {
			ports[s.Name] = append(ports[s.Name], in.Health.Ports...)
		}
	}
	require.Equal(t, []int{10002}, ports["openim-api"])
	require.Equal(t, []int{10001}, ports["openim-msggateway"])
	require.Equal(t, []int{10170, 10171, 10172, 10173, 10174, 10175, 10176, 10177}, ports["openim-push"])
	require.Equal(t, []int{10320}, ports["openim-rpc-user"])
	require.Empty(t, ports["openim-msgtransfer"])
	svc, ok := cfg.Playbook.UnitByName("openim-msgtransfer")
	require.True(t, ok)
	require.Equal(t, "openim-msgtransfer", svc.Name)

	waves := cfg.Playbook.Waves()
	require.Equal(t, [][]string{
		{"check-free-memory"},
		{"check-component"},
		{"openim-rpc-auth", "openim-rpc-user", "openim-rpc-friend", "openim-rpc-group", "openim-rpc-conversation",
			"openim-rpc-msg", "openim-rpc-third", "openim-push", "openim-msgtransfer", "openim-crontask"},
		{"openim-msggateway", "openim-api"},
	}, waves)
}
