package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/config"
)

// TestLimitKeepsMemberList pins that --limit narrows the hosts a run acts
// on, never what hosts() sees: the one host deployed alone still gets the
// full member list in its args and templates.
func TestLimitKeepsMemberList(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"inv.hcl": `playbook = "pb.hcl"
host "m-1" {
  address = "10.0.8.1"
  groups  = ["ring"]
}
host "m-2" {
  address = "10.0.8.2"
  groups  = ["ring"]
}
host "m-3" {
  address = "10.0.8.3"
  groups  = ["ring"]
}`,
		"pb.hcl": `app "pvl" {}
template "members" {
  source      = "members.tpl"
  destination = "conf/members"
  hosts       = ["ring"]
}
service "member" {
  binary = "member"
  hosts  = ["ring"]
  args   = ["--peers", join(",", [for h in hosts("ring") : h.address])]
}`,
		"members.tpl": `%{ for h in hosts("ring") }${h.name} %{ endfor }`,
		"member":      "",
	}
	for name, content := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	cfg, diags := config.Load(config.LoadOptions{InventoryPath: filepath.Join(dir, "inv.hcl")})
	require.False(t, diags.HasErrors(), diags.Error())
	for _, limit := range [][]string{{"m-2"}, {"ring[1]"}, {"ring[1:1]"}} {
		r, err := newFleetRun(cfg, fleetOptions{Limit: limit, ConnectOptions: ConnectOptions{Parallel: 1}}, nil)
		require.NoError(t, err)
		require.Len(t, r.Hosts, 1, "--limit %v", limit)
		hp := r.Hosts[0].Placement
		require.Equal(t, "m-2", hp.Host.Name)
		require.Equal(t, []string{"--peers", "10.0.8.1,10.0.8.2,10.0.8.3"}, hp.Services[0].Args)
		require.Equal(t, "m-1 m-2 m-3 ", string(hp.Templates[0].Content))
	}
}
