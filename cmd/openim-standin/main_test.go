package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// runOut runs the stand-in to completion and returns its status and output.
func runOut(ctx context.Context, t *testing.T, args []string, vars map[string]string) (int, string) {
	t.Helper()
	var b strings.Builder
	code := run(ctx, args, env(vars), &b)
	return code, b.String()
}

// TestCheck pins the one-shot gates: "ok" and exit 0, or exit 1 when told.
func TestCheck(t *testing.T) {
	code, out := runOut(t.Context(), t, []string{"/opt/openim/current/bin/check-component", "-c", t.TempDir()}, nil)
	if code != 0 || out != "ok\n" {
		t.Errorf("check-component = %d %q", code, out)
	}
	code, out = runOut(t.Context(), t, []string{"check-free-memory"}, map[string]string{"STANDIN_FAIL": "1"})
	if code != 1 || !strings.Contains(out, "failing as told") {
		t.Errorf("check-free-memory with STANDIN_FAIL=1 = %d %q", code, out)
	}
}

// TestServe pins the service role: it listens on ports[i] and
// metrics_ports[i] from standin.json, answers /healthz and /metrics on
// both, 404s elsewhere, and exits 0 when stopped.
func TestServe(t *testing.T) {
	dir := t.TempDir()
	port, mport := freePort(t), freePort(t)
	cfg := `{"openim-push": {"ports": [1, ` + strconv.Itoa(port) + `], "metrics_ports": [2, ` + strconv.Itoa(mport) + `]}}`
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"/x/openim-push", "-i", "1", "-c", dir}, env(map[string]string{"STANDIN_HOST": "127.0.0.1"}), pw)
		_ = pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	var log []string
	for listening := 0; listening < 2 && lines.Scan(); {
		log = append(log, lines.Text())
		if strings.Contains(lines.Text(), "listening on") {
			listening++
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	for _, p := range []int{port, mport} {
		for path, want := range map[string]int{"/healthz": 200, "/metrics": 200, "/nope": 404} {
			resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(p) + path)
			if err != nil {
				t.Fatalf("GET :%d%s: %v (log %q)", p, path, err, log)
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("GET :%d%s = %d, want %d", p, path, resp.StatusCode, want)
			}
			if path == "/metrics" && !strings.Contains(string(body), `standin_up{name="openim-push",index="1"} 1`) {
				t.Errorf("metrics body = %q", body)
			}
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit status after SIGTERM = %d, want 0", code)
	}
}

// TestMisbehave pins the failure modes the lab tests rely on.
func TestMisbehave(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte(`{"openim-api": {"ports": [10002]}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out := runOut(t.Context(), t, []string{"openim-api", "-i", "3", "-c", dir}, nil)
	if code != 1 || !strings.Contains(out, "-i 3: index out of range: ports has 1 entries") {
		t.Errorf("-i past the port list = %d %q", code, out)
	}
	// A port-less service (openim-crontask) that crashes after a moment.
	code, out = runOut(t.Context(), t, []string{"openim-crontask", "-c", dir}, map[string]string{"STANDIN_CRASH_AFTER": "10ms"})
	if code != 1 || !strings.Contains(out, "running without listening") || !strings.Contains(out, "crashing as told (crash_after 10ms)") {
		t.Errorf("crash_after = %d %q", code, out)
	}
	// Stopped while still delaying its start: a clean exit.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	code, out = runOut(ctx, t, []string{"openim-api", "-c", dir}, map[string]string{"STANDIN_START_DELAY": "1h"})
	if code != 0 || !strings.Contains(out, "stopped before listening") {
		t.Errorf("stop during start delay = %d %q", code, out)
	}
	for name, vars := range map[string]map[string]string{
		"bad duration": {"STANDIN_DRAIN": "soon"},
		"bad port":     {"STANDIN_PORTS": "10002,x"},
	} {
		if code, out := runOut(t.Context(), t, []string{"openim-api", "-c", dir}, vars); code != 1 {
			t.Errorf("%s = %d %q, want 1", name, code, out)
		}
	}
	if code, out := runOut(t.Context(), t, []string{"openim-api", "-c", t.TempDir()}, nil); code != 1 || !strings.Contains(out, "read config") {
		t.Errorf("missing standin.json = %d %q", code, out)
	}
}

// TestExampleConfig keeps the shipped standin.json (OpenIM v3.8.3's port
// layout, copied into the demo's config file set) parseable, complete for
// the twelve services, and free of port clashes.
func TestExampleConfig(t *testing.T) {
	b, err := os.ReadFile(ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	var all map[string]Spec
	if err := json.Unmarshal(b, &all); err != nil {
		t.Fatal(err)
	}
	if len(all) != 12 {
		t.Errorf("%d services, want OpenIM's 12", len(all))
	}
	seen := map[int]string{}
	for name, s := range all {
		for _, list := range [][]int{s.Ports, s.MetricsPorts, s.WSPorts} {
			for _, p := range list {
				if other, dup := seen[p]; dup {
					t.Errorf("port %d used by %s and %s", p, other, name)
				}
				seen[p] = name
			}
		}
	}
	if n := len(all["openim-push"].Ports); n != 8 {
		t.Errorf("openim-push has %d instances' ports, want 8", n)
	}
}

// TestMembers pins the cluster mode: the peer port is open before the
// member list is read, and the service ports open only once every member
// (here itself and one other) accepts.
func TestMembers(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte(`{"ring": {"ports": [`+strconv.Itoa(port)+`]}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = other.Close() }()
	go acceptPeers(other)
	self := "127.0.0.1:" + strconv.Itoa(freePort(t))
	list := filepath.Join(dir, "members.txt")
	if err := os.WriteFile(list, []byte("# the ring\n"+self+"\n\n"+other.Addr().String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"ring", "-c", dir, "-peer-listen", self, "-members", list}, env(map[string]string{"STANDIN_HOST": "127.0.0.1"}), pw)
		_ = pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	var log []string
	for lines.Scan() {
		log = append(log, lines.Text())
		if strings.Contains(lines.Text(), "listening on 127.0.0.1:"+strconv.Itoa(port)) {
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	want := []string{"peer port listening on " + self, "waiting for 2 members", "members: all 2 reachable", "starting", "listening on"}
	for i, w := range want {
		if i >= len(log) || !strings.Contains(log[i], w) {
			t.Fatalf("log line %d does not contain %q (log %q)", i, w, log)
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit status after SIGTERM = %d, want 0", code)
	}
	code, out := runOut(t.Context(), t, []string{"ring", "-c", dir, "-members", filepath.Join(dir, "none")}, nil)
	if code != 1 || !strings.Contains(out, "read members") {
		t.Errorf("missing member list = %d %q", code, out)
	}
}
