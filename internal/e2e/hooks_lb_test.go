package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/lab"
)

// lbHosts are the three backends behind the balancer.
var lbHosts = []string{"lab-1", "lab-2", "lab-3"}

// The hooks of docs/rollout.md's HAProxy recipe, as the lab runs them:
// drain each host of the batch, wait until it holds no session, then put
// it in maintenance; after the batch, make it ready and wait until
// HAProxy's own checks see it up again.
const lbHookAPI = `api() {
	out=$(printf '%s\n' "$1" | socat -t 5 stdio "unix-connect:$HAPROXY_SOCKET") || exit 1
	printf '%s\n' "$out"
}
set_state() {
	out=$(api "set server $BACKEND/$1 state $2")
	if [ -n "$(printf '%s' "$out" | tr -d '[:space:]')" ]; then echo "$out" >&2; exit 1; fi
}
field() { api "show stat" | awk -F, -v b="$BACKEND" -v s="$1" -v f="$2" '$1 == b && $2 == s { print $f }'; }
`

const lbDrain = lbHookAPI + `set -u
for h in $OPENIM_DEPLOY_HOSTS; do set_state "$h" drain; done
for h in $OPENIM_DEPLOY_HOSTS; do
	while [ "$(field "$h" 5)" != 0 ]; do sleep 0.05; done
	set_state "$h" maint
done
echo "drained $OPENIM_DEPLOY_HOSTS (batch $OPENIM_DEPLOY_BATCH of $OPENIM_DEPLOY_SERVICE, $OPENIM_DEPLOY_COMMAND)"
`

const lbReady = lbHookAPI + `set -u
for h in $OPENIM_DEPLOY_HOSTS; do set_state "$h" ready; done
for h in $OPENIM_DEPLOY_HOSTS; do
	until [ "$(field "$h" 18)" = UP ]; do sleep 0.05; done
done
echo "ready $OPENIM_DEPLOY_HOSTS"
`

// lbPlaybook is one HTTP service (the stand-in as openim-api) on the
// three hosts, rolled one instance at a time, with the drain and ready
// hooks, and a guard hook that fails a batch when a file named after its
// hosts exists in failDir.
func lbPlaybook(app string, port int, sock, failDir string) string {
	return fmt.Sprintf(`
app %[1]q {
  root = "/opt/%[1]s"
  user = "openim"
}
files "config" {
  source = "config"
  hosts  = ["app"]
}
service "web" {
  binary      = "bin/openim-api"
  args        = ["-i", "%%i", "-c", "config"]
  hosts       = ["app"]
  environment = { STANDIN_START_DELAY = "500ms" }
  health {
    http     = "http://127.0.0.1:%[2]d/healthz"
    interval = "200ms"
    stable   = "1s"
  }
}
rollout {
  batch           = 1
  max_unavailable = 1
}
hook "guard" {
  when    = "before_batch"
  command = ["sh", "-c", "test ! -e \"$FAIL_DIR/fail-$OPENIM_DEPLOY_HOSTS\""]
  environment = { FAIL_DIR = %[4]q }
  timeout = "5s"
}
hook "drain" {
  when    = "before_batch"
  service = ["web"]
  command = ["sh", "-c", %[5]q]
  environment = { HAPROXY_SOCKET = %[3]q, BACKEND = "be" }
  timeout = "20s"
}
hook "ready" {
  when    = "after_batch"
  command = ["sh", "-c", %[6]q]
  environment = { HAPROXY_SOCKET = %[3]q, BACKEND = "be" }
  timeout = "20s"
}
hook "undrain" {
  when    = "after_rollback"
  command = ["sh", "-c", %[6]q]
  environment = { HAPROXY_SOCKET = %[3]q, BACKEND = "be" }
  timeout = "20s"
}
`, app, port, sock, failDir, lbDrain, lbReady)
}

// needTools makes sure the controller has the programs named, installing
// their Debian packages when missing (scripts/deps.sh installs them for
// make test; this covers a lab test run on its own).
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	var missing []string
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	if os.Geteuid() != 0 {
		t.Skipf("%s missing and not root to install them", strings.Join(missing, ", "))
	}
	cmd := exec.Command("apt-get", append([]string{"install", "-y", "-q"}, missing...)...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "apt-get install %v:\n%s", missing, out)
}

// haproxy is HAProxy running on the controller for one test.
type haproxy struct {
	sock string
	url  string
}

// startHAProxy runs HAProxy in the foreground with a frontend on
// 127.0.0.1:port balancing backend "be" over servers (name -> address),
// a runtime API socket at level admin and fast health checks. It is
// killed when the test ends.
func startHAProxy(t *testing.T, port int, servers map[string]string, order []string) *haproxy {
	t.Helper()
	dir, err := os.MkdirTemp("", "lb")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	sock := filepath.Join(dir, "admin.sock")
	var b strings.Builder
	fmt.Fprintf(&b, `global
  stats socket %s mode 600 level admin
  maxconn 2000
defaults
  mode http
  timeout connect 1s
  timeout client 10s
  timeout server 10s
  # No retries, no redispatch: a request sent to an instance that is
  # stopping fails, so the test sees what clients would.
  retries 0
frontend fe
  bind 127.0.0.1:%d
  default_backend be
backend be
  balance roundrobin
  option httpchk GET /healthz
  default-server inter 200ms fall 2 rise 2
`, sock, port)
	for _, name := range order {
		fmt.Fprintf(&b, "  server %s %s check\n", name, servers[name])
	}
	cfg := filepath.Join(dir, "haproxy.cfg")
	require.NoError(t, os.WriteFile(cfg, []byte(b.String()), 0o600))
	cmd := exec.Command("haproxy", "-db", "-f", cfg)
	var logs lockedLog
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Logf("haproxy output:\n%s", logs.String())
	})
	return &haproxy{sock: sock, url: fmt.Sprintf("http://127.0.0.1:%d/healthz", port)}
}

// api sends one runtime API command.
func (h *haproxy) api(cmd string) (string, error) {
	c, err := net.DialTimeout("unix", h.sock, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := fmt.Fprintf(c, "%s\n", cmd); err != nil {
		return "", err
	}
	var b strings.Builder
	s := bufio.NewScanner(c)
	for s.Scan() {
		b.WriteString(s.Text() + "\n")
	}
	return b.String(), nil
}

// states returns each server's status ("UP", "DOWN", "MAINT", ...) and
// administrative weight as "status/weight".
func (h *haproxy) states() map[string]string {
	out, err := h.api("show stat")
	if err != nil {
		return nil
	}
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, ",")
		if len(f) > 18 && f[0] == "be" && f[1] != "BACKEND" {
			m[f[1]] = f[17]
		}
	}
	return m
}

// waitAllUp waits (bounded) until HAProxy sees every server up.
func (h *haproxy) waitAllUp(t *testing.T, names []string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		st := h.states()
		up := 0
		for _, n := range names {
			if st[n] == "UP" {
				up++
			}
		}
		if up == len(names) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("haproxy never saw every server up: %v", h.states())
}

// lockedLog collects a process's output.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// client sends a request through the balancer every 20 ms until stopped,
// at most limit requests, and counts those that failed (an error or a
// status other than 200).
type client struct {
	stop     chan struct{}
	done     chan struct{}
	ok, fail int
	errs     []string
}

func startClient(url string, limit int) *client {
	c := &client{stop: make(chan struct{}), done: make(chan struct{})}
	hc := &http.Client{Timeout: 2 * time.Second}
	go func() {
		defer close(c.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for range limit {
			resp, err := hc.Get(url)
			switch {
			case err != nil:
				c.fail++
				c.errs = append(c.errs, err.Error())
			case resp.StatusCode != http.StatusOK:
				c.fail++
				c.errs = append(c.errs, resp.Status)
			default:
				c.ok++
			}
			if resp != nil {
				_ = resp.Body.Close()
			}
			select {
			case <-c.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return c
}

// finish stops the client and returns its counts.
func (c *client) finish() (ok, fail int, errs []string) {
	close(c.stop)
	<-c.done
	return c.ok, c.fail, c.errs
}

// TestHooksLoadBalancerZeroDowntime: HAProxy on the controller balances a
// service on three lab hosts, and a client sends a request through it
// every 20 ms. A rolling restart and a rolling upgrade with the drain and
// ready hooks fail no request; the same restart with --no-hooks is the
// control, and its failures are reported. Then a before_batch hook that
// fails for batch 2 fails the run before lab-2 or lab-3 restarts.
func TestHooksLoadBalancerZeroDowntime(t *testing.T) {
	l := lab.Require(t)
	needTools(t, "haproxy", "socat")
	const base = 25000
	port, lbPort := base+10, base+90
	d := newDeploy(t, l, "e2elb", base, lbHosts...)
	failDir := t.TempDir()
	servers := map[string]string{}
	for _, n := range lbHosts {
		servers[n] = fmt.Sprintf("%s:%d", l.Host(t, n).Address, port)
	}
	lb := startHAProxy(t, lbPort, servers, lbHosts)
	require.NoError(t, os.WriteFile(filepath.Join(d.dir, "config", "standin.json"),
		[]byte(fmt.Sprintf(`{"openim-api": {"ports": [%d]}}`, port)), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(d.dir, "playbook.hcl"), []byte(lbPlaybook(d.app, port, lb.sock, failDir)), 0o644))

	res := d.run("apply")
	require.Equal(t, 0, res.Code, res.Out)
	lb.waitAllUp(t, lbHosts)

	// rolled runs args with the client running and returns its failures.
	rolled := func(what string, args ...string) (result, int) {
		c := startClient(lb.url, 3000) // 60 s at most
		res := d.run(args...)
		ok, fail, errs := c.finish()
		t.Logf("%s: %d requests ok, %d failed %v", what, ok, fail, errs)
		require.Positive(t, ok)
		return res, fail
	}

	res, fail := rolled("restart with hooks", "restart")
	require.Equal(t, 0, res.Code, res.Out)
	require.Contains(t, res.Out, "drained lab-2 (batch 2/3 of web, restart)")
	require.Zero(t, fail, "a rolling restart with drain hooks fails no request")
	lb.waitAllUp(t, lbHosts)

	d.appendBin("openim-api")
	res, fail = rolled("upgrade with hooks", "apply")
	require.Equal(t, 0, res.Code, res.Out)
	require.Contains(t, res.Out, "hooks around web batch 3/3 (lab-3/web@0.service): before_batch: guard (controller), drain (controller); after_batch: ready (controller); after_rollback: undrain (controller)")
	require.Zero(t, fail, "a rolling upgrade with drain hooks fails no request")
	lb.waitAllUp(t, lbHosts)

	res, controlFail := rolled("restart without hooks (control)", "restart", "--no-hooks")
	require.Equal(t, 0, res.Code, res.Out)
	require.Contains(t, res.Out, "not running before_batch hook guard, drain (--no-hooks)")
	t.Logf("CONTROL: the restart without hooks failed %d requests", controlFail)
	require.Positive(t, controlFail, "without the hooks, clients see the restarts")
	lb.waitAllUp(t, lbHosts)

	// A before_batch hook that fails for lab-2's batch: lab-1 was
	// restarted, lab-2 and lab-3 were not touched (restart does not roll
	// back), and the run fails naming the hook.
	before := d.starts("web@0.service")
	require.NoError(t, os.WriteFile(filepath.Join(failDir, "fail-lab-2"), nil, 0o644))
	res = d.run("restart")
	require.NotEqual(t, 0, res.Code, res.Out)
	require.Contains(t, res.Out, "before_batch hook guard failed: controller: exit 1")
	after := d.starts("web@0.service")
	require.NotEqual(t, before["lab-1/web@0.service"], after["lab-1/web@0.service"], "batch 1 restarted")
	require.Equal(t, before["lab-2/web@0.service"], after["lab-2/web@0.service"], "lab-2's batch failed before its restart")
	require.Equal(t, before["lab-3/web@0.service"], after["lab-3/web@0.service"], "no batch after the failure")
	require.NotContains(t, res.Out, "drained lab-2", "the guard runs before the drain")
}
