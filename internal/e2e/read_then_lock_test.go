package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/cli"
	"github.com/openimsdk/openim-deploy/internal/lab"
)

// TestNoopApplyIsOneSessionPerHost: on converged hosts, apply opens one
// SSH connection and one session per host (the read composed of facts,
// state and the lock's holder), takes no lock, and says so.
func TestNoopApplyIsOneSessionPerHost(t *testing.T) {
	parallelOn(t, "lab-1", "lab-2")
	l := lab.Require(t)
	hosts := []string{"lab-1", "lab-2"}
	d := fresh(t, l, "e2enoop", 22500, hosts...)
	require.Equal(t, cli.ExitOK, d.run("apply").Code)

	res, c := d.runCounted("apply")
	require.Equal(t, cli.ExitOK, res.Code)
	require.Contains(t, res.Out, "Plan: no changes.")
	require.Contains(t, res.Out, "==> Lock hosts (skipped: no host has changes)")
	for _, h := range hosts {
		require.Equal(t, int64(1), c.Host(h).Connections.Load(), h)
		require.Equal(t, int64(1), c.Host(h).Sessions.Load(), "%s: one session: the read", h)
		out, err := l.Exec(t, h, "sh", "-c", `[ -e "$1" ] && echo held || echo free`, "sh", "/var/lib/openim-deploy/e2enoop.lock")
		require.NoError(t, err)
		require.Equal(t, "free", strings.TrimSpace(out), h)
	}
}

// TestLockRereadsAndReplansWhatChanged: the state a run planned from is
// read again under the lease, and a host that changed in between is
// planned again, printed, and converged. Another run's lease (written on
// the host by the test) holds the host while the apply waits for it with
// --lock-wait; meanwhile an instance is stopped behind the apply's back,
// then the lease is removed.
func TestLockRereadsAndReplansWhatChanged(t *testing.T) {
	parallelOn(t, "lab-2")
	l := lab.Require(t)
	d := fresh(t, l, "e2erepl", 22600, "lab-2")
	require.Equal(t, cli.ExitOK, d.run("apply").Code)

	lease := "/var/lib/openim-deploy/e2erepl.lock"
	hold := `set -e
mkdir -m 700 "$1"
echo $(( $(date +%s) + 120 )) > "$1/expires"
printf '{"id":"other","user":"ops","host":"elsewhere","pid":7,"command":"apply","acquired":%s,"expires":0}\n' "$(date +%s)" > "$1/info"`
	out, err := l.Exec(t, "lab-2", "sh", "-c", hold, "sh", lease)
	require.NoError(t, err, out)
	t.Cleanup(func() { _, _ = l.Exec(t, "lab-2", "rm", "-rf", lease) })

	locking := make(chan struct{})
	var once bool
	wait := d.startRun(func(line string) {
		if strings.Contains(line, "==> Lock hosts") && !once {
			once = true
			close(locking)
		}
	}, "apply", "--lock-wait", "2m")
	select {
	case <-locking:
	case <-time.After(3 * time.Minute):
		t.Fatalf("apply never reached the lock:\n%s", wait().Out)
	}
	// The apply has read and planned (no changes, but the host is held):
	// change the host under it, then let it in.
	out, err = l.Exec(t, "lab-2", "sh", "-c", `systemctl stop backend@1.service && rm -rf "$1"`, "sh", lease)
	require.NoError(t, err, out)

	res := wait()
	require.Equal(t, cli.ExitOK, res.Code, res.Out)
	require.Contains(t, res.Out, "the host changed since it was read")
	require.Contains(t, res.Out, "start backend@1.service")
	require.Contains(t, res.Out, "healthy backend@1.service")
	for _, st := range d.show("lab-2", d.units()[1:]...) {
		require.Equal(t, "active", st["ActiveState"], fmt.Sprint(st))
	}
}
