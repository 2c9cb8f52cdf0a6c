package e2e

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/cli"
	"github.com/openimsdk/openim-deploy/internal/lab"
)

// TestRollbackGoesByTheLedger: v1 (healthy), then a crash-looping release
// whose first batch fails and is rolled back, then v2 (healthy), then
// rollback. By id order the crashed release is "the one before current";
// rollback used to go there and leave instances crash-looping. By the
// ledger it goes to v1, the release that was current before v2, and every
// instance ends healthy on it. releases shows the crashed one as failed.
func TestRollbackGoesByTheLedger(t *testing.T) {
	parallelOn(t, "lab-3", "lab-4")
	l := lab.Require(t)
	d := newDeploy(t, l, "e2eledger", 22400, "lab-3", "lab-4")
	removeStaleDropIns(t, l, d)
	require.Equal(t, cli.ExitOK, d.run("apply").Code)
	v1 := d.runningRelease("lab-3", "backend@0.service")["backend@0.service"]

	d.writeBin("openim-rpc-user", "#!/bin/sh\necho crash-looping\nsleep 1\nexit 3\n")
	res := d.run("apply")
	require.Equal(t, cli.ExitError, res.Code)
	require.Contains(t, res.Out, "auto-rollback of 1 instance(s)")
	crashed := regexp.MustCompile(`new release (\S+) `).FindStringSubmatch(res.Out)
	require.NotNil(t, crashed, "the crashed run names its release")

	d.installStandin("openim-rpc-user")
	d.appendBin("openim-rpc-user")
	require.Equal(t, cli.ExitOK, d.run("apply").Code)
	v2 := d.runningRelease("lab-3", "backend@0.service")["backend@0.service"]
	require.NotEqual(t, v1, v2)
	require.Less(t, v1, crashed[1])
	require.Less(t, crashed[1], v2, "the crashed release sits between v1 and v2 by id")

	res = d.run("rollback")
	require.Equal(t, cli.ExitOK, res.Code)
	require.Contains(t, res.Out, "roll back from release "+v2+" to "+v1)
	for _, h := range d.hosts {
		for u, rel := range d.runningRelease(h, "backend@0.service", "backend@1.service", "api@0.service", "cron@0.service") {
			require.Equal(t, v1, rel, "%s on %s", u, h)
		}
		for _, st := range d.show(h, d.units()...) {
			require.Equal(t, "active", st["ActiveState"], "%s on %s", st["Id"], h)
		}
	}

	res = d.run("releases", "--no-fold", "--limit", "lab-3")
	require.Equal(t, cli.ExitOK, res.Code)
	require.Regexp(t, regexp.QuoteMeta("[lab-3] * "+v1)+`\s+\(current\)`, res.Out)
	require.Regexp(t, regexp.QuoteMeta("[lab-3]   "+v2)+`\s+\(previous, served\)`, res.Out)
	require.Regexp(t, regexp.QuoteMeta("[lab-3]   "+crashed[1])+`\s+\(failed, rolled back\)`, res.Out)

	// --to the crashed release is refused: it never served.
	res = d.run("rollback", "--to", crashed[1])
	require.NotEqual(t, cli.ExitOK, res.Code)
	require.Contains(t, res.Out, "never became current on this host")
}
