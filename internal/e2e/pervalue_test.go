package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/cli"
	"github.com/openimsdk/openim-deploy/internal/lab"
)

// Ports of the per-host values app (this file's range is 30000-30999).
const (
	pvZonePort = 30000 // pvzone's service port
	pvRingPort = 30100 // pvring's service port, open once the ring formed
	pvPeerPort = 30101 // pvring's peer port, listed in the rendered member list
)

// pvPlaybook uses every per-host feature at once: a local built from
// hosts(), a template per host, host.* in args, environment and health, a
// 3-member ring whose members know each other only through the rendered
// member list, and a service placed on app[0] alone.
const pvPlaybook = `
variable "pv_secret" { sensitive = true }

app "pvhost" {
  # The checks below read the sensitive template at its destination: file
  # delivery (TestCredentialsEncryptedAtRest covers credentials).
  secret_delivery = "file"
  root = "/opt/pvhost"
  user = "openim"
}

locals {
  members = [for h in hosts("ring") : "${h.address}:%[3]d"]
}

files "config" {
  source = "config"
  hosts  = ["app"]
}

template "zone" {
  source      = "zone.tpl"
  destination = "conf/zone.txt"
  hosts       = ["app"]
}

template "members" {
  source      = "members.tpl"
  destination = "conf/members.txt"
  hosts       = ["ring"]
  vars        = { members = local.members }
}

template "creds" {
  source      = "creds.tpl"
  destination = "conf/creds.txt"
  hosts       = ["app[0]"]
  sensitive   = true
  vars        = { password = var.pv_secret }
}

service "pvzone" {
  binary      = "bin/pvzone"
  args        = ["-i", "%%i", "-c", "config", "zone=${host.vars.zone}", "self=${host.name}"]
  hosts       = ["app"]
  environment = { PV_ZONE = host.vars.zone, PV_ADDR = host.address }
  files       = ["zone"]
  health {
    tcp    = "${host.address}:%[1]d"
    stable = "2s"
  }
}

service "pvring" {
  binary = "bin/pvring"
  args   = ["-i", "%%i", "-c", "config", "-peer-listen", "${host.address}:%[3]d", "-members", "conf/members.txt"]
  hosts  = ["ring"]
  files  = ["members"]
  health {
    tcp     = "${host.address}:%[2]d"
    stable  = "2s"
    retries = 60
  }
}

service "pvcron" {
  binary = "bin/pvcron"
  args   = ["-i", "%%i", "-c", "config"]
  hosts  = ["app[0]"]
  files  = []
  health { stable = "2s" }
}
`

// pvInventory writes the inventory: every host in groups app and ring, each
// with its own zone.
func pvInventory(d *deploy, zones map[string]string) {
	var b strings.Builder
	fmt.Fprintf(&b, "defaults {\n  user = \"root\"\n  identity = %q\n  known_hosts = %q\n}\n", d.lab.KeyPath, d.lab.KnownHostsPath)
	for _, name := range d.hosts {
		h := d.lab.Host(d.t, name)
		fmt.Fprintf(&b, "host %q {\n  address = %q\n  groups = [\"app\", \"ring\"]\n  vars = { zone = %q }\n}\n", h.Name, h.Address, zones[name])
	}
	require.NoError(d.t, os.WriteFile(filepath.Join(d.dir, "inventory.hcl"), []byte(b.String()), 0o644))
}

// newPerValueDeploy lays out the app's files: the stand-in under three
// names, its config, the templates, and the playbook.
func newPerValueDeploy(t *testing.T, l *lab.Lab, hosts ...string) *deploy {
	d := &deploy{t: t, lab: l, dir: t.TempDir(), app: "pvhost", hosts: hosts, base: pvZonePort}
	for _, sub := range []string{"bin", "config"} {
		require.NoError(t, os.MkdirAll(filepath.Join(d.dir, sub), 0o755))
	}
	for _, name := range []string{"pvzone", "pvring", "pvcron"} {
		d.installStandin(name)
	}
	files := map[string]string{
		"config/standin.json": fmt.Sprintf(`{"pvzone": {"ports": [%d]}, "pvring": {"ports": [%d]}, "pvcron": {}}`, pvZonePort, pvRingPort),
		"zone.tpl":            "zone=${host.vars.zone} host=${host.name}\n",
		"members.tpl":         "# the ring, as seen by ${host.name}\n%{ for m in members }${m}\n%{ endfor }",
		"creds.tpl":           "secret=${password}\n",
		"playbook.hcl":        fmt.Sprintf(pvPlaybook, pvZonePort, pvRingPort, pvPeerPort),
	}
	for name, content := range files {
		require.NoError(t, os.WriteFile(filepath.Join(d.dir, name), []byte(content), 0o644))
	}
	t.Cleanup(func() { pvUninstall(t, l, hosts) })
	return d
}

// pvUninstall removes the app from the hosts: units stopped and deleted,
// root and lock removed.
func pvUninstall(t *testing.T, l *lab.Lab, hosts []string) {
	script := `systemctl stop pvhost.target 2>/dev/null
for u in pvzone@0 pvring@0 pvcron@0; do systemctl disable "$u.service" >/dev/null 2>&1; systemctl stop "$u.service" 2>/dev/null; done
systemctl disable pvhost.target >/dev/null 2>&1
rm -rf /etc/systemd/system/pvzone@.service* /etc/systemd/system/pvring@.service* /etc/systemd/system/pvcron@.service* \
  /etc/systemd/system/pvzone@0.service.d /etc/systemd/system/pvring@0.service.d /etc/systemd/system/pvcron@0.service.d \
  /etc/systemd/system/pvhost.target /etc/systemd/system/pvhost.target.wants
systemctl daemon-reload
systemctl reset-failed 2>/dev/null
rm -rf /opt/pvhost /var/lib/openim-deploy/pvhost.lock
true`
	for _, h := range hosts {
		if out, err := l.Exec(t, h, "sh", "-c", script); err != nil {
			t.Logf("uninstall pvhost on %s: %v\n%s", h, err, out)
		}
	}
}

// procOf returns a NUL-separated /proc file of a unit's main process, with
// NULs as newlines.
func procOf(t *testing.T, d *deploy, host, unit, file string) string {
	t.Helper()
	st := d.show(host, unit)[0]
	require.Equal(t, "active", st["ActiveState"], "%s on %s", unit, host)
	out, err := d.lab.Exec(t, host, "sh", "-c", `tr '\0' '\n' < /proc/"$1"/`+file, "sh", st["MainPID"])
	require.NoError(t, err, out)
	return out
}

// TestPerHostValues pins per-host values on three lab hosts: each host's
// own args, environment and rendered file; a ring that converges on a cold
// start through its rendered member list; app[0] placing a service on one
// host; --limit keeping the full member list and changing nothing; and a
// change of one host's vars restarting only that host's instances.
func TestPerHostValues(t *testing.T) {
	l := lab.Require(t)
	hosts := []string{"lab-1", "lab-2", "lab-3"}
	d := newPerValueDeploy(t, l, hosts...)
	zones := map[string]string{"lab-1": "north", "lab-2": "south", "lab-3": "west"}
	pvInventory(d, zones)
	const secret = "pv-e2e-secret-1"
	t.Setenv("OPENIM_DEPLOY_VAR_pv_secret", secret)

	// Cold start: pvring's members can open their service port only once
	// all three run, so this converges only if the ring's start is not
	// serialised host by host and every host has the full member list.
	res := d.run("apply")
	require.Equal(t, cli.ExitOK, res.Code, res.Out)
	require.NotContains(t, res.Out, secret)

	var members []string
	for _, h := range hosts {
		members = append(members, l.Host(t, h).Address+fmt.Sprintf(":%d", pvPeerPort))
	}
	for _, h := range hosts {
		addr := l.Host(t, h).Address
		cmdline := procOf(t, d, h, "pvzone@0.service", "cmdline")
		require.Contains(t, cmdline, "\nzone="+zones[h]+"\nself="+h+"\n", "args on %s", h)
		environ := procOf(t, d, h, "pvzone@0.service", "environ")
		require.Contains(t, environ, "PV_ZONE="+zones[h]+"\n", "environment on %s", h)
		require.Contains(t, environ, "PV_ADDR="+addr+"\n", "environment on %s", h)

		zone, err := l.Exec(t, h, "cat", "/opt/pvhost/current/conf/zone.txt")
		require.NoError(t, err)
		require.Equal(t, "zone="+zones[h]+" host="+h+"\n", zone, "rendered file on %s", h)

		list, err := l.Exec(t, h, "cat", "/opt/pvhost/current/conf/members.txt")
		require.NoError(t, err)
		require.Equal(t, "# the ring, as seen by "+h+"\n"+strings.Join(members, "\n")+"\n", list, "member list on %s", h)
		require.Equal(t, "active", d.show(h, "pvring@0.service")[0]["ActiveState"], "ring member on %s", h)
		journal, err := l.Exec(t, h, "journalctl", "-u", "pvring@0.service", "--no-pager", "-o", "cat")
		require.NoError(t, err)
		require.Contains(t, journal, "members: all 3 reachable", "ring member on %s", h)

		// app[0] is lab-1: the only host with pvcron and the sensitive
		// template, which is root-owned 0600.
		_, err = l.Exec(t, h, "test", "-e", "/etc/systemd/system/pvcron@.service")
		creds, credsErr := l.Exec(t, h, "stat", "-L", "-c", "%a %U", "/opt/pvhost/current/conf/creds.txt")
		if h == "lab-1" {
			require.NoError(t, err, "pvcron on app[0]")
			require.Equal(t, "active", d.show(h, "pvcron@0.service")[0]["ActiveState"])
			require.NoError(t, credsErr, creds)
			require.Equal(t, "600 root", strings.TrimSpace(creds))
			text, err := l.Exec(t, h, "cat", "/opt/pvhost/current/conf/creds.txt")
			require.NoError(t, err)
			require.Equal(t, "secret="+secret+"\n", text)
		} else {
			require.Error(t, err, "pvcron must run on app[0] only, found on %s", h)
			require.Error(t, credsErr, "the sensitive template is placed on app[0] only, found on %s", h)
		}
	}

	units := []string{"pvzone@0.service", "pvring@0.service", "pvcron@0.service"}
	converged := d.starts(units...)
	res = d.run("apply")
	require.Equal(t, cli.ExitOK, res.Code)
	require.Contains(t, res.Out, "Plan: no changes.")

	// A new secret changes the sensitive template: the plan says so
	// without its text, and no unit uses it, so nothing restarts.
	t.Setenv("OPENIM_DEPLOY_VAR_pv_secret", secret+"-rotated")
	res = d.run("plan")
	require.Equal(t, cli.ExitOK, res.Code)
	require.Contains(t, res.Out, "update conf/creds.txt (secret")
	require.NotContains(t, res.Out, secret)
	require.NotContains(t, res.Out, "template conf/creds.txt")
	res = d.run("apply")
	require.Equal(t, cli.ExitOK, res.Code)
	require.NotContains(t, res.Out, secret)
	require.Equal(t, converged, d.starts(units...))

	// --limit one host: the member list it renders still holds all three
	// (hosts() sees the whole inventory), so nothing changes.
	res = d.run("apply", "--limit", "lab-3")
	require.Equal(t, cli.ExitOK, res.Code)
	require.Contains(t, res.Out, "Plan: no changes.")
	require.NotContains(t, res.Out, "lab-1")
	res = d.run("plan", "--limit", "app[1]")
	require.Equal(t, cli.ExitOK, res.Code)
	require.Contains(t, res.Out, "Plan: no changes.")
	require.Equal(t, converged, d.starts(units...))

	// One host's vars change: only that host's pvzone restarts (its args,
	// environment and zone.txt changed); the ring, which uses only the
	// member list, and every other host stay as they were.
	zones["lab-2"] = "east"
	pvInventory(d, zones)
	res = d.run("plan")
	require.Equal(t, cli.ExitOK, res.Code)
	require.Contains(t, res.Out, "[lab-2] template conf/zone.txt\n")
	require.Contains(t, res.Out, "    -zone=south host=lab-2\n    +zone=east host=lab-2\n", "plan shows the template's text diff")
	require.NotContains(t, res.Out, "[lab-1] template")
	res = d.run("apply")
	require.Equal(t, cli.ExitOK, res.Code)
	after := d.starts(units...)
	for key, started := range converged {
		if key == "lab-2/pvzone@0.service" {
			require.NotEqual(t, started, after[key], "%s must restart", key)
			continue
		}
		require.Equal(t, started, after[key], "%s must not restart", key)
	}
	cmdline := procOf(t, d, "lab-2", "pvzone@0.service", "cmdline")
	require.Contains(t, cmdline, "\nzone=east\n")
	zone, err := l.Exec(t, "lab-2", "cat", "/opt/pvhost/current/conf/zone.txt")
	require.NoError(t, err)
	require.Equal(t, "zone=east host=lab-2\n", zone)
	zone, err = l.Exec(t, "lab-1", "cat", "/opt/pvhost/current/conf/zone.txt")
	require.NoError(t, err)
	require.Equal(t, "zone=north host=lab-1\n", zone)
}
