package phase

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/osinfo"
	"github.com/openimsdk/openim-deploy/internal/plan"
)

func loadCredsConfig(t *testing.T, appAttrs string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"inv.hcl": `playbook = "pb.hcl"
host "a" { address = "10.0.0.1" }`,
		"pb.hcl": `variable "pw" {
  sensitive = true
  default   = "hunter2"
}
app "x" {` + appAttrs + `}
template "creds" {
  source      = "creds.tpl"
  destination = "secret/creds.yml"
  hosts       = ["all"]
  sensitive   = true
  vars        = { pw = var.pw }
}
service "db-user" {
  binary             = "s"
  hosts              = ["all"]
  files              = ["creds"]
  secret_environment = { PW = var.pw }
}
service "plain" {
  binary = "s"
  hosts  = ["all"]
  files  = []
}`,
		"creds.tpl": "pw=${pw}\n",
		"s":         "",
	}
	return loadFiles(t, dir, files)
}

// TestBuildDesired_Credentials: a host with secrets is built for
// credential delivery; chooseDelivery keys its hashes on systemd 252 (with
// the host's key, or a new one it remembers) and rebuilds it with 0600
// files on systemd 247; under secret_delivery = "file" there is no
// credential at all.
func TestBuildDesired_Credentials(t *testing.T) {
	cfg := loadCredsConfig(t, "")
	local := NewLocalFiles()
	cd, err := BuildDesired(cfg, cfg.Placement()[0], local)
	require.NoError(t, err)
	require.True(t, cd.DeliversCredentials())
	rels := func(d plan.Desired) []string {
		var out []string
		for _, a := range d.Artifacts {
			out = append(out, a.Rel)
		}
		return out
	}
	require.Subset(t, rels(cd), []string{".creds/env/db-user.cred", ".creds/files/secret/creds.yml.cred", ".creds/run"})
	require.NotContains(t, rels(cd), "env/db-user.env")
	require.NotContains(t, rels(cd), "secret/creds.yml")
	require.Equal(t, []string{"secret/creds.yml"}, cd.PlainSecrets, "where file delivery keeps the template")
	for _, a := range cd.Artifacts {
		if strings.HasPrefix(a.Rel, ".creds/env/") || strings.HasPrefix(a.Rel, ".creds/files/") {
			require.NotEmpty(t, a.Credential, a.Rel)
			require.True(t, a.Secret, a.Rel)
			require.Empty(t, a.SHA256, "keyed per host, later")
		}
	}
	for _, u := range cd.Units {
		switch u.Unit {
		case "db-user":
			require.Subset(t, u.Uses, []string{".creds/run", ".creds/env/db-user.cred", ".creds/files/secret/creds.yml.cred"})
			require.Contains(t, string(u.DropIn("r-1")), "LoadCredentialEncrypted=openim-deploy-env:/opt/x/releases/r-1/.creds/env/db-user.cred\n")
		case "plain":
			require.NotContains(t, u.Uses, ".creds/run", "no secrets: no wrapper, no restart when it changes")
		}
	}

	facts := func(v int) osinfo.Facts { return osinfo.Facts{Init: osinfo.InitSystemd, SystemdVersion: v} }
	old := &Host{Desired: cd, Placement: cfg.Placement()[0], Facts: facts(247)}
	require.NoError(t, old.chooseDelivery(cfg, local))
	require.Contains(t, rels(old.Desired), "env/db-user.env", "systemd 247: files")
	require.Contains(t, rels(old.Desired), "secret/creds.yml")
	require.NotContains(t, strings.Join(rels(old.Desired), " "), ".creds/")
	require.False(t, old.Desired.DeliversCredentials())
	require.Nil(t, old.newCredKey())

	cur := &Host{Desired: cd, Placement: cfg.Placement()[0], Facts: facts(252)}
	require.NoError(t, cur.chooseDelivery(cfg, local))
	require.Contains(t, rels(cur.Desired), ".creds/env/db-user.cred")
	require.Len(t, cur.newCredKey(), 32, "no key on the host: a new one, stored by the push")
	var hashed string
	for _, a := range cur.Desired.Artifacts {
		if a.Rel == ".creds/env/db-user.cred" {
			hashed = a.SHA256
			require.Equal(t, plan.CredentialHash(cur.newCredKey(), a.Credential, a.Content), a.SHA256)
		}
	}
	require.NoError(t, cur.chooseDelivery(cfg, local)) // once per run: a re-plan keeps the key
	for _, a := range cur.Desired.Artifacts {
		if a.Rel == ".creds/env/db-user.cred" {
			require.Equal(t, hashed, a.SHA256)
		}
	}
	keyed := &Host{Desired: cd, Facts: facts(252), Actual: plan.Actual{CredKey: make([]byte, 32)}}
	require.NoError(t, keyed.chooseDelivery(cfg, local))
	require.Nil(t, keyed.newCredKey(), "the host's own key")

	file := loadCredsConfig(t, "\n  secret_delivery = \"file\"\n")
	d, err := BuildDesired(file, file.Placement()[0], NewLocalFiles())
	require.NoError(t, err)
	require.False(t, d.DeliversCredentials())
	require.Contains(t, rels(d), "env/db-user.env")
}
