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

// TestForeignUnitFileRefusesItsHost pins "never write over a unit you did
// not write" on real hosts: a file at the path where the tool would install
// x@.service, without the app's header (the operator's own, or another
// app's), or a unit x@.service in another directory systemd loads from
// (which the tool's file would shadow), makes apply refuse that host naming the file and its first line,
// exit 6, and leave the file byte for byte and the host's app root
// untouched; the other hosts converge.
func TestForeignUnitFileRefusesItsHost(t *testing.T) {
	parallelOn(t, "lab-1", "lab-2", "lab-3")
	l := lab.Require(t)
	d := newDeploy(t, l, "e2eforeign", 21800, "lab-1", "lab-2", "lab-3")
	// Only service x: units placed on a refused host hold back what
	// depends on them elsewhere (as for an unreachable host), and x has
	// no dependents, so the other hosts converge completely.
	pb := `
variable "bin_dir" { default = "bin" }
app "e2eforeign" {
  root = "/opt/e2eforeign"
  user = "openim"
}
files "config" {
  source = "config"
  hosts  = ["app"]
}
service "x" {
  binary    = "${var.bin_dir}/openim-crontask"
  args      = ["-i", "%i", "-c", "config"]
  hosts     = ["app"]
  instances = 2
  health { stable = "2s" }
}
`
	require.NoError(t, os.WriteFile(filepath.Join(d.dir, "playbook.hcl"), []byte(pb), 0o644))
	const path = "/etc/systemd/system/x@.service"
	const vendor = "/run/systemd/system/x@.service" // a directory every systemd host has
	put := func(at, content string) string {
		out, err := l.Exec(t, "lab-2", "sh", "-c", `mkdir -p "${2%/*}" && printf '%s' "$1" >"$2" && sha256sum "$2"`, "sh", content, at)
		require.NoError(t, err, out)
		return out
	}
	sum := func(at string) string {
		out, err := l.Exec(t, "lab-2", "sha256sum", at)
		require.NoError(t, err, out)
		return out
	}
	t.Cleanup(func() { _, _ = l.Exec(t, "lab-2", "rm", "-f", path, vendor) })

	for _, tc := range []struct{ name, at, content, says string }{
		{"no header", path, "[Unit]\nDescription=theirs\n", `exists and was not written by openim-deploy for app e2eforeign (first line: "[Unit]")`},
		{"another app's", path, "# Managed by openim-deploy (app=e2eother): changes here are overwritten by the next apply.\n[Unit]\n",
			`exists and was not written by openim-deploy for app e2eforeign (it belongs to app e2eother; first line: "# Managed by openim-deploy (app=e2eother): `},
		{"a unit it would shadow", vendor, "[Unit]\nDescription=packaged\n",
			"would shadow " + vendor + ", a unit openim-deploy did not write for app e2eforeign"},
	} {
		t.Log(tc.name)
		if tc.at != path {
			_, _ = l.Exec(t, "lab-2", "rm", "-f", path)
		}
		before := put(tc.at, tc.content)
		res := d.run("apply")
		require.Equal(t, cli.ExitPreflight, res.Code, "a refused host exits 6")
		require.Contains(t, res.Out, "[lab-2] error: refused: "+path+" "+tc.says)
		require.Equal(t, before, sum(tc.at), "the foreign file is byte-identical")
		out, err := l.Exec(t, "lab-2", "sh", "-c", "test ! -e /opt/e2eforeign && test ! -e /etc/systemd/system/e2eforeign.target && echo untouched")
		require.NoError(t, err, out)
		require.Equal(t, "untouched", strings.TrimSpace(out))
		for _, h := range []string{"lab-1", "lab-3"} {
			for _, st := range d.show(h, "x@0.service", "x@1.service", "e2eforeign.target") {
				require.Equal(t, "active", st["ActiveState"], "%s on %s", st["Id"], h)
			}
		}
	}
}
