package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/cli"
	"github.com/openimsdk/openim-deploy/internal/lab"
)

// TestPurgeRemovesOnlyWhatTheToolCreated pins "first, do no harm" on real
// systemd: app "im" is deployed into a root that also holds the
// operator's data/, beside app "im.v2" (its own root, a live lock). Purging
// im removes its units, releases, current and state, by exact name; the
// data/ beside releases/ survives with its file, and im.v2 keeps running
// with its state and its lock untouched (the old "$app".* glob took them).
func TestPurgeRemovesOnlyWhatTheToolCreated(t *testing.T) {
	parallelOn(t, "lab-1")
	l := lab.Require(t)
	const host, root = "lab-1", "/srv/e2eown"
	out, err := l.Exec(t, host, "sh", "-c", `rm -rf "$1" && mkdir -p "$1/data" && echo precious >"$1/data/db"`, "sh", root)
	require.NoError(t, err, out)
	t.Cleanup(func() { _, _ = l.Exec(t, host, "rm", "-rf", root) })

	v2 := newDeploy(t, l, "im.v2", 31600, host)
	writeSmallPlaybook(t, v2)
	require.Equal(t, cli.ExitOK, v2.run("apply").Code)

	im := newDeploy(t, l, "im", 31500, host)
	removeStaleDropIns(t, l, im)
	pb, err := os.ReadFile(filepath.Join(im.dir, "playbook.hcl"))
	require.NoError(t, err)
	pb = []byte(strings.Replace(string(pb), `root = "/opt/im"`, `root = "`+root+`"`, 1))
	require.NoError(t, os.WriteFile(filepath.Join(im.dir, "playbook.hcl"), pb, 0o644))
	require.Equal(t, cli.ExitOK, im.run("apply").Code)
	out, err = l.Exec(t, host, "ls", root)
	require.NoError(t, err, out)
	require.Equal(t, "current\ndata\nreleases\n", out, "deploying into a root that holds data/ works")

	// A live lock of im.v2's, as a run of its own would hold it.
	out, err = l.Exec(t, host, "sh", "-c", "mkdir /var/lib/openim-deploy/im.v2.lock && echo held >/var/lib/openim-deploy/im.v2.lock/holder")
	require.NoError(t, err, out)

	res := im.run("uninstall", "--purge", "-y")
	require.Equal(t, cli.ExitOK, res.Code)
	require.Contains(t, res.Out, "kept "+root+": it holds data/ that openim-deploy did not create")

	check := `root=$1
cd /etc/systemd/system
for f in gate.service backend@.service api@.service cron@.service im.target; do [ -e "$f" ] && echo "left: $f"; done
for p in "$root/releases" "$root/current" /var/lib/openim-deploy/im; do [ -e "$p" ] && echo "left: $p"; done
[ "$(cat "$root/data/db")" = precious ] || echo "lost: $root/data/db"
[ -f /var/lib/openim-deploy/im.v2/owned ] || echo "lost: im.v2's state"
[ -f /var/lib/openim-deploy/im.v2.lock/holder ] || echo "lost: im.v2's lock"
systemctl is-active -q v2cron@0.service || echo "stopped: v2cron@0.service"
true`
	out, err = l.Exec(t, host, "sh", "-c", check, "sh", root)
	require.NoError(t, err, out)
	require.Empty(t, strings.TrimSpace(out))

	// Then im.v2 goes too, once its lock is free.
	out, err = l.Exec(t, host, "rm", "-rf", "/var/lib/openim-deploy/im.v2.lock")
	require.NoError(t, err, out)
	require.Equal(t, cli.ExitOK, v2.run("uninstall", "--purge", "-y").Code)
	out, err = l.Exec(t, host, "sh", "-c", `for p in /etc/systemd/system/v2cron@.service /etc/systemd/system/im.v2.target /opt/im.v2 /var/lib/openim-deploy/im.v2; do [ -e "$p" ] && echo "left: $p"; done; true`)
	require.NoError(t, err, out)
	require.Empty(t, strings.TrimSpace(out))
}

// writeSmallPlaybook gives d a one-service playbook whose unit names
// (v2cron@, <app>.target) are its own.
func writeSmallPlaybook(t *testing.T, d *deploy) {
	t.Helper()
	pb := `app "` + d.app + `" {
  root = "/opt/` + d.app + `"
  user = "openim"
}
files "config" {
  source = "config"
  hosts  = ["app"]
}
service "v2cron" {
  binary = "bin/openim-crontask"
  args   = ["-i", "%i", "-c", "config"]
  hosts  = ["app"]
  health { stable = "1s" }
}
`
	require.NoError(t, os.WriteFile(filepath.Join(d.dir, "playbook.hcl"), []byte(pb), 0o644))
}
