package e2e

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/cli"
	"github.com/openimsdk/openim-deploy/internal/lab"
)

// sampler dials every backend instance on every host from the controller,
// again and again, and records the most instances down at once. It is
// bounded by stop and by limit.
type sampler struct {
	stop    chan struct{}
	done    chan struct{}
	mu      sync.Mutex
	samples int
	maxDown int
	elapsed time.Duration
}

func startSampler(addrs []string, limit time.Duration) *sampler {
	s := &sampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		start := time.Now()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for time.Since(start) < limit {
			down := 0
			for _, a := range addrs {
				c, err := net.DialTimeout("tcp", a, 300*time.Millisecond)
				if err != nil {
					down++
					continue
				}
				_ = c.Close()
			}
			s.mu.Lock()
			s.samples++
			s.maxDown = max(s.maxDown, down)
			s.elapsed = time.Since(start)
			s.mu.Unlock()
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

func (s *sampler) finish() (samples, maxDown int, elapsed time.Duration) {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.samples, s.maxDown, s.elapsed
}

var sixHosts = []string{"lab-1", "lab-2", "lab-3", "lab-4", "lab-5", "lab-6"}

// TestRolloutRestartInBatches: a rolling restart of a 12-instance service
// (2 per host on 6 hosts) with batch 2 never has more than 2 instances
// down, sampled from the controller at least 5 times a second; every
// instance restarts, in batches shown in the output; and a restart of one
// instance leaves every other process on its host running.
func TestRolloutRestartInBatches(t *testing.T) {
	l := lab.Require(t)
	d := newDeploy(t, l, "e2eroll", 21000, sixHosts...)
	require.Equal(t, cli.ExitOK, d.run("apply").Code)

	var addrs []string
	for _, h := range d.hosts {
		for i := range 2 {
			addrs = append(addrs, net.JoinHostPort(l.Host(t, h).Address, strconv.Itoa(21000+i)))
		}
	}
	before := d.starts()
	s := startSampler(addrs, 4*time.Minute)
	res := d.run("restart", "backend", "--batch", "2")
	samples, maxDown, elapsed := s.finish()
	require.Equal(t, cli.ExitOK, res.Code)
	require.GreaterOrEqual(t, float64(samples)/elapsed.Seconds(), 5.0, "%d samples in %s", samples, elapsed)
	require.LessOrEqual(t, maxDown, 2, "more than a batch of instances was down at once")
	for i := 1; i <= 6; i++ {
		require.Contains(t, res.Out, fmt.Sprintf("rolling backend: batch %d/6: ", i))
	}
	require.Contains(t, res.Out, "rolling backend: batch 1/6: lab-1/backend@0.service lab-2/backend@0.service\n",
		"a batch spreads over hosts before it takes two instances of one")
	var changed []string
	for k := range before {
		if strings.Contains(k, "/backend@") {
			changed = append(changed, k)
		}
	}
	require.ElementsMatch(t, changed, changedStarts(before, d.starts()), "every backend instance restarted, nothing else")

	before = d.starts()
	res = d.run("restart", "backend@1", "--limit", "lab-3")
	require.Equal(t, cli.ExitOK, res.Code)
	require.Equal(t, []string{"lab-3/backend@1.service"}, changedStarts(before, d.starts()))
}

// TestRolloutCrashLoopRollsBack: an upgrade to a crash-looping release with
// batch 1 fails its first batch, starts no second one, rolls the first
// back, and every instance ends healthy on the previous release, reported
// per instance.
func TestRolloutCrashLoopRollsBack(t *testing.T) {
	parallelOn(t, "lab-1", "lab-2", "lab-3")
	l := lab.Require(t)
	d := newDeploy(t, l, "e2ecrash", 21100, "lab-1", "lab-2", "lab-3")
	require.Equal(t, cli.ExitOK, d.run("apply").Code)
	v1 := d.runningRelease("lab-1", "backend@0.service")["backend@0.service"]
	d.writeBin("openim-rpc-user", "#!/bin/sh\necho crash-looping\nsleep 1\nexit 3\n")
	before := d.starts()
	res := d.run("apply")
	require.Equal(t, cli.ExitError, res.Code)
	require.Contains(t, res.Out, "rolling backend: batch 1/6: lab-1/backend@0.service\n")
	require.NotContains(t, res.Out, "rolling backend: batch 2/6")
	require.Contains(t, res.Out, "auto-rollback of 1 instance(s): lab-1/backend@0.service")
	require.Contains(t, res.Out, "[lab-1] warning: backend@0.service runs release "+v1+" after the rollback")
	require.Equal(t, []string{"lab-1/backend@0.service"}, changedStarts(before, d.starts()))
	d.requireRuns(v1, v1, "backend@0.service", "backend@1.service")
	// api and cron never restarted: they run v1, pinned to the new release,
	// which is identical for them.
	for _, h := range d.hosts {
		for u, rel := range d.runningRelease(h, "api@0.service", "cron@0.service") {
			require.Equal(t, v1, rel, "%s on %s", u, h)
		}
	}
	for _, h := range d.hosts {
		for _, st := range d.show(h, "backend@0.service", "backend@1.service") {
			require.Equal(t, "active", st["ActiveState"], "%s on %s", st["Id"], h)
		}
	}
}

// TestRolloutCanary: with canary = 1 and a pause, a non-interactive run
// waits after the first instance for the pause before the next batch;
// --confirm goes on at once.
func TestRolloutCanary(t *testing.T) {
	parallelOn(t, "lab-3", "lab-4")
	l := lab.Require(t)
	d := newDeploy(t, l, "e2ecanary", 21200, "lab-3", "lab-4")
	d.playbook = "rollout {\n  canary = 1\n  pause  = \"3s\"\n}\n"
	d.writePlaybook()
	require.Equal(t, cli.ExitOK, d.run("apply").Code)

	d.appendBin("openim-rpc-user")
	res := d.run("apply")
	require.Equal(t, cli.ExitOK, res.Code)
	require.Contains(t, res.Out, "rolling backend: batch 1/4: lab-3/backend@0.service\n")
	require.Contains(t, res.Out, "rolling backend: canary healthy; waiting for confirmation to continue")
	canary := d.show("lab-3", "backend@0.service")[0]["ExecMainStartTimestampMonotonic"]
	next := d.show("lab-4", "backend@0.service")[0]["ExecMainStartTimestampMonotonic"]
	c, _ := strconv.ParseInt(canary, 10, 64)
	n, _ := strconv.ParseInt(next, 10, 64)
	// The second batch started no sooner than the canary's 2 s gate plus
	// the 3 s pause: a lower bound the run imposes, not a timing guess.
	require.GreaterOrEqual(t, n-c, int64(5*time.Second/time.Microsecond))

	d.appendBin("openim-rpc-user")
	res = d.run("apply", "--confirm")
	require.Equal(t, cli.ExitOK, res.Code)
	require.Contains(t, res.Out, "rolling backend: canary healthy; continuing (--confirm)")
}

// TestRolloutRollbackAndReleases: rollback after a good upgrade restores
// the previous binary and unit text on every host, rolling; rollback --to
// goes back to a named release; releases lists them and the audit log;
// pruning keeps keep_releases plus what instances run.
func TestRolloutRollbackAndReleases(t *testing.T) {
	parallelOn(t, "lab-5", "lab-6")
	l := lab.Require(t)
	d := newDeploy(t, l, "e2eback", 21300, "lab-5", "lab-6")
	require.Equal(t, cli.ExitOK, d.run("apply").Code)
	v1 := d.runningRelease("lab-5", "api@0.service")["api@0.service"]
	unitV1, err := l.Exec(t, "lab-5", "cat", "/etc/systemd/system/api@.service")
	require.NoError(t, err)

	d.appendBin("openim-api")
	replaceInFile(t, d, `service "api" {`, "service \"api\" {\n  environment = { API_MODE = \"v2\" }")
	require.Equal(t, cli.ExitOK, d.run("apply").Code)
	v2 := d.runningRelease("lab-5", "api@0.service")["api@0.service"]
	require.NotEqual(t, v1, v2)

	res := d.run("rollback")
	require.Equal(t, cli.ExitOK, res.Code)
	require.Contains(t, res.Out, "rolling api: batch 1/2: lab-5/api@0.service\n")
	for _, h := range d.hosts {
		require.Equal(t, v1, d.runningRelease(h, "api@0.service")["api@0.service"], h)
		unit, err := l.Exec(t, h, "cat", "/etc/systemd/system/api@.service")
		require.NoError(t, err)
		require.Equal(t, unitV1, unit, "the unit text of the release rolled back to is restored on %s", h)
		cur, err := l.Exec(t, h, "readlink", "/opt/e2eback/current")
		require.NoError(t, err)
		require.Equal(t, "releases/"+v1, strings.TrimSpace(cur))
	}

	res = d.run("releases", "--no-fold")
	require.Equal(t, cli.ExitOK, res.Code)
	require.Contains(t, res.Out, "[lab-5] * "+v1)
	require.Contains(t, res.Out, "[lab-5]   "+v2)
	require.Contains(t, res.Out, "action=apply from="+v1+" to="+v2+" outcome=changed")
	require.Contains(t, res.Out, "action=rollback from="+v2+" to="+v1+" outcome=changed")

	require.Equal(t, cli.ExitOK, d.run("rollback", "--to", v2).Code)
	for _, h := range d.hosts {
		require.Equal(t, v2, d.runningRelease(h, "api@0.service")["api@0.service"], h)
	}

	// keep_releases = 2: after more upgrades, the oldest releases no
	// instance runs are pruned; v1, which backend and cron still run, stays.
	replaceInFile(t, d, `user = "openim"`, "user = \"openim\"\n  keep_releases = 2")
	for range 3 {
		d.appendBin("openim-api")
		require.Equal(t, cli.ExitOK, d.run("apply").Code)
	}
	out, err := l.Exec(t, "lab-5", "ls", "/opt/e2eback/releases")
	require.NoError(t, err)
	kept := strings.Fields(out)
	require.Contains(t, kept, v1, "a release instances still run is never pruned")
	require.NotContains(t, kept, v2)
	require.Len(t, kept, 3, "two newest plus the one still running: %v", kept)
}

// TestRolloutQuorumColdStart: a 3-member service whose members turn
// healthy only when all three run converges on a cold start, because
// instances that are not running start together rather than in batches.
func TestRolloutQuorumColdStart(t *testing.T) {
	parallelOn(t, "lab-1", "lab-2", "lab-3")
	l := lab.Require(t)
	hosts := []string{"lab-1", "lab-2", "lab-3"}
	d := newDeploy(t, l, "e2equorum", 21400, hosts...)
	var peers []string
	for _, h := range hosts {
		peers = append(peers, net.JoinHostPort(l.Host(t, h).Address, "21420"))
	}
	d.playbook = fmt.Sprintf(`
service "quorum" {
  binary      = "${var.bin_dir}/openim-push"
  args        = ["-i", "%%i", "-c", "config"]
  hosts       = ["app"]
  environment = { STANDIN_PEERS = %q }
  health {
    http    = "http://127.0.0.1:21420/healthz"
    stable  = "2s"
    retries = 30
  }
}
`, strings.Join(peers, ","))
	d.writePlaybook()
	res := d.run("apply")
	require.Equal(t, cli.ExitOK, res.Code)
	for _, h := range hosts {
		require.Equal(t, "active", d.show(h, "quorum@0.service")[0]["ActiveState"])
	}
	require.NotContains(t, res.Out, "rolling quorum", "members that were not running are not batched")
}
