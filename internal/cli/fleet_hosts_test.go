package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/config"
)

// TestFleetRunKeepsTemplateOnlyHosts: a host whose only placement is a
// template is deployed like any other; it used to be left out of the run
// (only services, tasks and file sets counted), so its file never arrived.
func TestFleetRunKeepsTemplateOnlyHosts(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"inv.hcl": `playbook = "pb.hcl"
host "svc-1" {
  address = "10.0.9.1"
  groups  = ["svc"]
}
host "edge-1" {
  address = "10.0.9.2"
  groups  = ["edge"]
}
host "spare-1" {
  address = "10.0.9.3"
  groups  = ["spare"]
}`,
		"pb.hcl": `app "tpl" {}
template "edge" {
  source      = "edge.tpl"
  destination = "conf/edge"
  hosts       = ["edge"]
}
service "member" {
  binary = "member"
  hosts  = ["svc"]
}`,
		"edge.tpl": "edge\n",
		"member":   "",
	}
	for name, content := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	cfg, diags := config.Load(config.LoadOptions{InventoryPath: filepath.Join(dir, "inv.hcl")})
	require.False(t, diags.HasErrors(), diags.Error())
	r, err := newFleetRun(cfg, fleetOptions{ConnectOptions: ConnectOptions{Parallel: 1}}, nil)
	require.NoError(t, err)
	var names []string
	for _, h := range r.Hosts {
		names = append(names, h.Config.Name)
	}
	require.Equal(t, []string{"svc-1", "edge-1"}, names, "the template-only host is in the run; the spare with nothing placed is not")

	// apply and plan visit every host: one with nothing placed is a
	// bystander, checked for what the tool installed there earlier.
	r, err = newFleetRun(cfg, fleetOptions{EveryHost: true, ConnectOptions: ConnectOptions{Parallel: 1}}, nil)
	require.NoError(t, err)
	require.Len(t, r.Hosts, 3)
	require.False(t, r.Hosts[1].Bystander)
	require.True(t, r.Hosts[2].Bystander)
}
