package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/cli"
	"github.com/openimsdk/openim-deploy/internal/lab"
)

// openimBinaries are the names playbooks/openim.hcl deploys.
var openimBinaries = []string{
	"openim-api", "openim-msggateway", "openim-push", "openim-msgtransfer", "openim-crontask",
	"openim-rpc-auth", "openim-rpc-conversation", "openim-rpc-friend", "openim-rpc-group",
	"openim-rpc-msg", "openim-rpc-third", "openim-rpc-user", "check-free-memory", "check-component",
}

// TestApplyOpenIMPlaybook pins the example that ships: the full OpenIM
// playbook, with the stand-in under every binary name, converges on two lab
// hosts (26 instances each, template units), the target stops and starts
// all of them, and a second apply is a no-op.
func TestApplyOpenIMPlaybook(t *testing.T) {
	l := lab.Require(t)
	dir := t.TempDir()
	bin, cfgDir := filepath.Join(dir, "bin"), filepath.Join(dir, "config")
	require.NoError(t, os.MkdirAll(bin, 0o755))
	require.NoError(t, os.MkdirAll(cfgDir, 0o755))
	standin, err := os.ReadFile(standinPath)
	require.NoError(t, err)
	for _, name := range openimBinaries {
		require.NoError(t, os.WriteFile(filepath.Join(bin, name), standin, 0o755))
	}
	ports, err := os.ReadFile(repoFile(t, "examples/standin-config/standin.json"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(cfgDir, "standin.json"), ports, 0o644))

	d := &deploy{t: t, lab: l, dir: dir, app: "openim", hosts: []string{"lab-2", "lab-3"}}
	// The playbook renders the infra addresses from group "infra"; the
	// stand-in needs no infrastructure, so the first host stands in.
	inv := strings.Replace(d.inventory(), `groups = ["app"]`, `groups = ["app", "infra"]`, 1)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "inventory.hcl"), []byte(inv), 0o644))
	t.Cleanup(func() { uninstallOpenIM(t, l, d.hosts) })
	args := []string{"-i", filepath.Join(dir, "inventory.hcl"), "-p", repoFile(t, "playbooks/openim.hcl"),
		"-var", "bin_dir=" + bin, "-var", "config_dir=" + cfgDir, "--ssh-config", "none"}
	t.Setenv("OPENIM_DEPLOY_VAR_mongo_password", "e2e-mongo-secret")
	t.Setenv("OPENIM_DEPLOY_VAR_redis_password", "e2e-redis-secret")
	t.Setenv("OPENIM_DEPLOY_VAR_minio_secret_key", "e2e-minio-secret")
	run := func(cmd ...string) result { return d.runRaw(append(cmd, args...)...) }

	res := run("apply")
	require.Equal(t, cli.ExitOK, res.Code)
	require.NotContains(t, res.Out, "e2e-mongo-secret")

	units := openimUnits()
	for i, h := range d.hosts {
		on := units
		if i > 0 { // openim-crontask runs on app[0] only
			on = slices.DeleteFunc(slices.Clone(units), func(u string) bool { return u == "openim-crontask@0.service" })
			_, err := l.Exec(t, h, "test", "!", "-e", "/etc/systemd/system/openim-crontask@.service")
			require.NoError(t, err, "crontask on %s", h)
		}
		for _, st := range d.show(h, on...) {
			require.Equal(t, "active", st["ActiveState"], "%s on %s", st["Id"], h)
		}
		disc, err := l.Exec(t, h, "cat", "/opt/openim/current/config/discovery.yml")
		require.NoError(t, err)
		require.Contains(t, disc, "address: [ "+l.Host(t, "lab-2").Address+":12379 ]")
		_, err = l.Exec(t, h, "test", "-f", "/etc/systemd/system/openim-push@.service")
		require.NoError(t, err, "template unit")
		// systemd 252: the secrets are an encrypted credential, root's.
		env, err := l.Exec(t, h, "stat", "-c", "%a %U", "/opt/openim/current/.creds/env/openim-rpc-user.cred")
		require.NoError(t, err)
		require.Equal(t, "600 root", strings.TrimSpace(env))
		_, err = l.Exec(t, h, "test", "!", "-e", "/opt/openim/current/env/openim-rpc-user.env")
		require.NoError(t, err, "no plain env file beside the credential")
	}

	// The target acts on the whole app.
	_, err = l.Exec(t, "lab-2", "systemctl", "stop", "openim.target")
	require.NoError(t, err)
	for _, st := range d.show("lab-2", units[2:]...) { // services; tasks are RemainAfterExit one-shots
		require.NotEqual(t, "active", st["ActiveState"], st["Id"])
	}
	_, err = l.Exec(t, "lab-2", "systemctl", "start", "openim.target")
	require.NoError(t, err)
	for _, st := range d.show("lab-2", units...) {
		require.Equal(t, "active", st["ActiveState"], st["Id"])
	}

	before := d.starts(units...)
	res = run("apply")
	require.Equal(t, cli.ExitOK, res.Code)
	require.Contains(t, res.Out, "Plan: no changes.")
	require.Equal(t, before, d.starts(units...))

	// plan --output json is a stream of JSON objects, one per line.
	res = run("plan", "--output", "json")
	require.Equal(t, cli.ExitOK, res.Code)
	for _, line := range strings.Split(strings.TrimSpace(res.Out), "\n") {
		var ev map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &ev), line)
		require.Contains(t, ev, "type")
	}
}

// TestApplyUnreachableHost pins that a host that cannot be reached is
// reported apart, does not stop the others, and sets its own exit code;
// what depends on units it carries is not started elsewhere as if they
// were healthy; leaving the host out with --limit deploys the rest.
func TestApplyUnreachableHost(t *testing.T) {
	parallelOn(t, "lab-3")
	l := lab.Require(t)
	d := newDeploy(t, l, "e2edown", 20600, "lab-3")
	inv := strings.Replace(d.inventory(), "defaults {", "defaults {\n  connect_timeout = \"3s\"", 1) +
		"host \"gone-1\" {\n  address = \"10.231.0.250\"\n  groups = [\"app\"]\n}\n"
	require.NoError(t, os.WriteFile(filepath.Join(d.dir, "inventory.hcl"), []byte(inv), 0o644))
	res := d.run("apply")
	require.Equal(t, cli.ExitUnreachable, res.Code)
	require.Regexp(t, `gone-1 +unreachable`, res.Out)
	require.Regexp(t, `lab-3 +changed`, res.Out)
	require.Contains(t, res.Out, "[gone-1] warning: takes no part in this run: what depends on gate, backend, api, cron is not started on any host")
	require.Equal(t, "active", d.show("lab-3", "gate.service")[0]["ActiveState"], "what depends on nothing still runs")
	require.NotEqual(t, "active", d.show("lab-3", "api@0.service")[0]["ActiveState"], "api's dependency on gone-1 is not known healthy")

	res = d.run("apply", "--limit", "all,!gone-1")
	require.Equal(t, cli.ExitOK, res.Code)
	require.Equal(t, "active", d.show("lab-3", "api@0.service")[0]["ActiveState"])
}

func openimUnits() []string {
	units := []string{"check-free-memory.service", "check-component.service"}
	for _, s := range []string{"openim-rpc-auth", "openim-rpc-user", "openim-rpc-friend", "openim-rpc-group",
		"openim-rpc-conversation", "openim-rpc-msg", "openim-rpc-third", "openim-crontask", "openim-msggateway", "openim-api"} {
		units = append(units, s+"@0.service")
	}
	for i := range 8 {
		units = append(units, fmt.Sprintf("openim-push@%d.service", i), fmt.Sprintf("openim-msgtransfer@%d.service", i))
	}
	return units
}

func repoFile(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", rel))
	require.NoError(t, err)
	return p
}

func uninstallOpenIM(t *testing.T, l *lab.Lab, hosts []string) {
	script := `systemctl stop openim.target 2>/dev/null
systemctl disable openim.target >/dev/null 2>&1
for f in /etc/systemd/system/openim* /etc/systemd/system/check-*.service; do
  n=$(basename "$f")
  systemctl stop "$n" "${n%@.service}@*" 2>/dev/null
done
rm -rf /etc/systemd/system/openim* /etc/systemd/system/check-*.service /etc/systemd/system/openim.target.wants /opt/openim /var/lib/openim-deploy/openim.lock
systemctl daemon-reload; systemctl reset-failed 2>/dev/null; true`
	for _, h := range hosts {
		if out, err := l.Exec(t, h, "sh", "-c", script); err != nil {
			t.Logf("uninstall openim on %s: %v\n%s", h, err, out)
		}
	}
}

// TestApplyAsSudoUser pins the non-root path: a deploy user with
// passwordless sudo and become = true converges a host (files staged as the
// login user, made root-owned before the release goes live), and a second
// apply changes nothing.
func TestApplyAsSudoUser(t *testing.T) {
	parallelOn(t, "lab-3")
	l := lab.Require(t)
	d := newDeploy(t, l, "e2esudo", 20800, "lab-3")
	inv := strings.Replace(d.inventory(), `user = "root"`, "user = \"deploy\"\n  become = true", 1)
	require.NoError(t, os.WriteFile(filepath.Join(d.dir, "inventory.hcl"), []byte(inv), 0o644))
	require.Equal(t, cli.ExitOK, d.run("apply").Code)
	for _, st := range d.show("lab-3", d.units()...) {
		require.Equal(t, "active", st["ActiveState"], st["Id"])
	}
	owner, err := l.Exec(t, "lab-3", "stat", "-c", "%U", "/opt/e2esudo/current/bin/openim-api", "/etc/systemd/system/api@.service")
	require.NoError(t, err)
	require.Equal(t, "root\nroot", strings.TrimSpace(owner))
	res := d.run("apply")
	require.Equal(t, cli.ExitOK, res.Code)
	require.Contains(t, res.Out, "Plan: no changes.")
}
