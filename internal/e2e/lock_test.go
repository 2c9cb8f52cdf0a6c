package e2e

import (
	"bufio"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/cli"
	"github.com/openimsdk/openim-deploy/internal/lab"
)

// TestLockConcurrentApply pins the per-host lease on real hosts: while one
// apply runs, a second fails fast naming the holder; an apply killed with
// SIGKILL leaves a lease that expires, after which the next apply takes it
// over (and says so) instead of needing a manual unlock.
func TestLockConcurrentApply(t *testing.T) {
	parallelOn(t, "lab-4")
	l := lab.Require(t)
	d := newDeploy(t, l, "e2elock", 20500, "lab-4")

	// First apply in its own process, killed once it holds the lock and is
	// waiting on health gates.
	first := d.command("apply", "--lock-ttl", "6s")
	stdout, err := first.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, first.Start())
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if strings.Contains(lines.Text(), "==> Start units") {
			break
		}
	}
	go func() {
		for lines.Scan() { // drain so the child never blocks on a full pipe
		}
	}()

	started := time.Now()
	res := d.run("apply")
	require.Equal(t, cli.ExitLockHeld, res.Code)
	require.Contains(t, res.Out, "locked by")
	require.Regexp(t, "running `[^`]* apply`", res.Out) // the holder's command
	require.Less(t, time.Since(started), 30*time.Second, "bounded, not a timing assertion: a held lock must not hang")

	require.NoError(t, first.Process.Signal(syscall.SIGKILL))
	_ = first.Wait()

	// The killed run's lease is still there...
	res = d.run("apply")
	require.Equal(t, cli.ExitLockHeld, res.Code)
	// ...until it expires; --lock-wait waits for that and takes it over.
	res = d.run("apply", "--lock-wait", "30s")
	require.Equal(t, cli.ExitOK, res.Code)
	require.Contains(t, res.Out, "took over an expired lock")

	// Released at the end of a run: the next one gets it at once.
	require.Equal(t, cli.ExitOK, d.run("apply").Code)
}
