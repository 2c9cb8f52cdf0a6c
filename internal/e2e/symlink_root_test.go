package e2e

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/cli"
	"github.com/openimsdk/openim-deploy/internal/lab"
)

// TestApplySymlinkedRoot: an app root reached through a symlink
// (/opt/<app> -> /data/<app>, as when /opt lives on another disk). The
// processes' working directories are read resolved; before the root was
// resolved the same way, no instance was ever seen to run a release, so
// every apply restarted everything and status showed "?".
func TestApplySymlinkedRoot(t *testing.T) {
	parallelOn(t, "lab-1", "lab-2")
	l := lab.Require(t)
	const app, data = "e2esymroot", "/data/e2esymroot"
	hosts := []string{"lab-1", "lab-2"}
	// Registered before newDeploy's uninstall, so it runs after it.
	t.Cleanup(func() {
		for _, h := range hosts {
			_, _ = l.Exec(t, h, "rm", "-rf", data)
		}
	})
	d := newDeploy(t, l, app, 22100, hosts...)
	removeStaleDropIns(t, l, d)
	for _, h := range hosts {
		out, err := l.Exec(t, h, "sh", "-c", `rm -rf "$1" "$2" && mkdir -p "$2" && ln -s "$2" "$1"`, "sh", "/opt/"+app, data)
		require.NoError(t, err, out)
	}

	require.Equal(t, cli.ExitOK, d.run("apply").Code)

	before := d.starts()
	res := d.run("apply")
	require.Equal(t, cli.ExitOK, res.Code)
	require.Contains(t, res.Out, "Plan: no changes.")
	require.Equal(t, before, d.starts(), "a second apply restarted an instance")

	rows, code := statusJSON(t, d)
	require.Equal(t, cli.ExitOK, code)
	for _, h := range hosts {
		rel := currentRelease(t, l, h, "/opt/"+app)
		require.NotEmpty(t, rel)
		for _, u := range d.units() {
			if u == "gate.service" {
				continue // a task has no process
			}
			row := rows[h+"/"+u]
			require.NotNil(t, row, "%s/%s missing", h, u)
			require.Equal(t, rel, row["release"], "%s/%s", h, u)
		}
		out, err := l.Exec(t, h, "test", "-L", "/opt/"+app)
		require.NoError(t, err, "the root is still the operator's symlink: %s", out)
	}
}
