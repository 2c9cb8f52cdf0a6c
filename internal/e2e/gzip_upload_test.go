package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/cli"
	"github.com/openimsdk/openim-deploy/internal/lab"
)

// TestGzipApplyAlways pins compressed uploads on real Debian hosts: with
// compress = "always" every release file travels gzipped on an exec
// session and is decompressed by the host's own gzip -dc; what lands on
// the host is byte for byte the local file, with its mode, and no temp
// file is left beside it. A second apply sends no file at all.
func TestGzipApplyAlways(t *testing.T) {
	parallelOn(t, "lab-1", "lab-2")
	l := lab.Require(t)
	hosts := []string{"lab-1", "lab-2"}
	d := fresh(t, l, "e2egz0", 23900, hosts...)
	pb := filepath.Join(d.dir, "playbook.hcl")
	src, err := os.ReadFile(pb)
	require.NoError(t, err)
	withGzip := strings.Replace(string(src), "  user = \"openim\"\n", "  user = \"openim\"\n  compress = \"always\"\n", 1)
	require.NotEqual(t, string(src), withGzip)
	require.NoError(t, os.WriteFile(pb, []byte(withGzip), 0o644))

	res := d.run("apply")
	require.Equal(t, cli.ExitOK, res.Code, res.Out)
	// Hosts with the same line are folded into one ("[lab-1..2] release …").
	require.Regexp(t, `\] release \S+: \d+ files sent \(\d+ bytes, \d+ on the wire \(gzip\)\)`, res.Out)

	local, err := os.ReadFile(filepath.Join(d.dir, "bin", "openim-api"))
	require.NoError(t, err)
	want := sha256.Sum256(local)
	for _, h := range hosts {
		out, err := d.lab.Exec(t, h, "sh", "-c", `f=$1/current/bin/openim-api
sha256sum < "$f" | cut -d' ' -f1; wc -c < "$f"; stat -c %a "$f"
find "$1/releases" -name '.*.openim-deploy-gz*' | wc -l`, "sh", "/opt/e2egz0")
		require.NoError(t, err, out)
		require.Equal(t, []string{hex.EncodeToString(want[:]), strconv.Itoa(len(local)), "755", "0"},
			strings.Fields(out), "sha256, size, mode and leftover temp files of the binary on %s", h)
	}
	for _, st := range d.show("lab-1", d.units()[1:]...) {
		require.Equal(t, "active", st["ActiveState"], st["Id"])
	}

	// The second apply, counted: nothing to send, so no file crosses.
	res, c := d.runCounted("apply")
	require.Equal(t, cli.ExitOK, res.Code)
	require.Contains(t, res.Out, "Plan: no changes.")
	require.NotContains(t, res.Out, "files sent")
	for _, h := range hosts {
		// The whole conversation (handshake, pre-flight, lock, gather):
		// kilobytes, where one copy of the binary is megabytes.
		require.Less(t, c.Host(h).BytesSent.Load(), int64(len(local)/20), h)
	}
}
