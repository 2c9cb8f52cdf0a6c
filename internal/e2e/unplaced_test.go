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

// TestApplyRemovesEverythingFromHostsNothingIsPlacedOn: a playbook change
// that places nothing on two of three hosts. Those hosts used to be left
// out of the run altogether, so their old instances ran, enabled, forever.
// Now they are visited: every unit the tool installed there is stopped,
// disabled and removed (releases stay, as data), and the next apply is a
// no-op.
func TestApplyRemovesEverythingFromHostsNothingIsPlacedOn(t *testing.T) {
	parallelOn(t, "lab-1", "lab-2", "lab-3")
	l := lab.Require(t)
	d := newDeploy(t, l, "e2eunplaced", 22200, "lab-1", "lab-2", "lab-3")
	removeStaleDropIns(t, l, d)
	require.Equal(t, cli.ExitOK, d.run("apply").Code)

	pbPath := filepath.Join(d.dir, "playbook.hcl")
	pb, err := os.ReadFile(pbPath)
	require.NoError(t, err)
	narrowed := strings.ReplaceAll(string(pb), `hosts  = ["app"]`, `hosts  = ["lab-1"]`)
	narrowed = strings.ReplaceAll(narrowed, `hosts      = ["app"]`, `hosts      = ["lab-1"]`)
	narrowed = strings.ReplaceAll(narrowed, `hosts     = ["app"]`, `hosts     = ["lab-1"]`)
	require.NotContains(t, narrowed, `["app"]`, "every placement moved to lab-1")
	require.NoError(t, os.WriteFile(pbPath, []byte(narrowed), 0o644))

	plan := d.run("plan")
	require.Equal(t, cli.ExitOK, plan.Code)
	require.Contains(t, plan.Out, "no longer placed on this host")

	res := d.run("apply")
	require.Equal(t, cli.ExitOK, res.Code)
	for _, h := range []string{"lab-2", "lab-3"} {
		for _, st := range d.show(h, append(d.units(), d.app+".target")...) {
			require.Equal(t, "inactive", st["ActiveState"], "%s on %s", st["Id"], h)
		}
		out, err := l.Exec(t, h, "sh", "-c", `cd /etc/systemd/system && for f in *; do case $(head -n1 "$f" 2>/dev/null) in *"(app=$1)"*) echo "$f";; esac; done; ls -d "$1.target.wants"/* 2>/dev/null; true`, "sh", d.app)
		require.NoError(t, err, out)
		require.Empty(t, strings.TrimSpace(out), "files the tool installed are left on %s", h)
		out, err = l.Exec(t, h, "test", "-L", "/opt/"+d.app+"/current")
		require.NoError(t, err, "the releases stay on %s (data until uninstall --purge): %s", h, out)
	}
	for _, st := range d.show("lab-1", d.units()...) {
		require.Equal(t, "active", st["ActiveState"], "%s on lab-1", st["Id"])
	}

	again := d.run("apply")
	require.Equal(t, cli.ExitOK, again.Code)
	require.Contains(t, again.Out, "Plan: no changes.")
}

// TestApplySkipsABystanderWithoutSystemd: an inventory host the playbook
// places nothing on, and that does not run systemd (the lab's sysvinit
// host, as a database host listed for its address would be), is visited,
// found unable to hold anything of the app, and skipped with a warning:
// the run does not fail for it.
func TestApplySkipsABystanderWithoutSystemd(t *testing.T) {
	parallelOn(t, "lab-1", "nosd-1")
	l := lab.Require(t)
	d := newDeploy(t, l, "e2ebystand", 22300, "lab-1")
	removeStaleDropIns(t, l, d)
	nosd := l.Host(t, "nosd-1")
	inv := filepath.Join(d.dir, "inventory.hcl")
	b, err := os.ReadFile(inv)
	require.NoError(t, err)
	b = append(b, []byte("host \"nosd-1\" {\n  address = \""+nosd.Address+"\"\n  groups = [\"spare\"]\n}\n")...)
	require.NoError(t, os.WriteFile(inv, b, 0o644))

	res := d.run("apply")
	require.Equal(t, cli.ExitOK, res.Code, res.Out)
	require.Contains(t, res.Out, "[nosd-1] warning: nothing is placed here; not checked for leftovers")
	require.Regexp(t, `nosd-1\s+skipped`, res.Out)
	for _, st := range d.show("lab-1", d.units()...) {
		require.Equal(t, "active", st["ActiveState"], "%s on lab-1", st["Id"])
	}
}
