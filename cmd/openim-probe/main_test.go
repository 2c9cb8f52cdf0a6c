package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/unit"
)

// fakeClock advances only when the probe sleeps, and runs onSleep each time,
// so a test changes the world between two tries without wall time.
type fakeClock struct {
	now     time.Time
	sleeps  int
	onSleep func(n int)
}

func (c *fakeClock) Now() time.Time { return c.now }
func (c *fakeClock) Sleep(_ context.Context, d time.Duration) {
	c.sleeps++
	c.now = c.now.Add(d)
	if c.onSleep != nil {
		c.onSleep(c.sleeps)
	}
}

func writeSpec(t *testing.T, s Spec) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "svc.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func check(c Check) Check {
	c.Interval, c.Timeout = "1s", "2s"
	return c
}

func TestTCPWaitsUntilListening(t *testing.T) {
	// A port that is free now: closed until the third sleep.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	spec := writeSpec(t, Spec{Instances: map[string]Check{"0": check(Check{TCP: addr})}})
	clk := &fakeClock{onSleep: func(n int) {
		if n == 3 {
			ln, err = net.Listen("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
		}
	}}
	var log bytes.Buffer
	if code := run(context.Background(), []string{spec, "0"}, &log, clk); code != exitReady {
		t.Fatalf("exit %d: %s", code, log.String())
	}
	defer ln.Close()
	if clk.sleeps != 3 {
		t.Errorf("slept %d times, want 3", clk.sleeps)
	}
	out := log.String()
	if !strings.Contains(out, "ready: tcp "+addr+" answered after 3s (4 tries)") {
		t.Errorf("log:\n%s", out)
	}
	if n := strings.Count(out, "waiting:"); n != 1 {
		t.Errorf("%d waiting lines for one reason, want 1:\n%s", n, out)
	}
}

func TestHTTPNeeds2xxOr3xx(t *testing.T) {
	var ok atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RequestURI() != "/healthz?x=1" {
			http.NotFound(w, r)
			return
		}
		if !ok.Load() {
			http.Error(w, "warming up", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	spec := writeSpec(t, Spec{Instances: map[string]Check{"a": check(Check{HTTP: srv.URL + "/healthz?x=1"})}})
	clk := &fakeClock{onSleep: func(n int) { ok.Store(n == 2) }}
	var log bytes.Buffer
	if code := run(context.Background(), []string{spec, "a"}, &log, clk); code != exitReady {
		t.Fatalf("exit %d: %s", code, log.String())
	}
	if clk.sleeps != 2 || !strings.Contains(log.String(), "status 503 Service Unavailable") {
		t.Errorf("sleeps %d, log:\n%s", clk.sleeps, log.String())
	}
}

func TestExecRetriesUntilZero(t *testing.T) {
	dir := t.TempDir()
	flag := filepath.Join(dir, "ready")
	spec := writeSpec(t, Spec{Instances: map[string]Check{"0": check(Check{Exec: []string{"sh", "-c", `test -e "$1" || { echo "not yet"; exit 3; }`, "sh", flag}})}})
	clk := &fakeClock{onSleep: func(n int) {
		if n == 2 {
			if err := os.WriteFile(flag, nil, 0o644); err != nil {
				t.Error(err)
			}
		}
	}}
	var log bytes.Buffer
	if code := run(context.Background(), []string{spec, "0"}, &log, clk); code != exitReady {
		t.Fatalf("exit %d: %s", code, log.String())
	}
	if !strings.Contains(log.String(), "exit status 3: not yet") || clk.sleeps != 2 {
		t.Errorf("sleeps %d, log:\n%s", clk.sleeps, log.String())
	}
}

func TestCancelledExitsNonZero(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	spec := writeSpec(t, Spec{Instances: map[string]Check{"0": check(Check{TCP: addr})}})
	ctx, cancel := context.WithCancel(context.Background())
	clk := &fakeClock{onSleep: func(n int) {
		if n == 2 {
			cancel()
		}
	}}
	var log bytes.Buffer
	if code := run(ctx, []string{spec, "0"}, &log, clk); code == exitReady || code == exitBadUsage {
		t.Fatalf("exit %d: %s", code, log.String())
	}
}

func TestBadSpec(t *testing.T) {
	good := check(Check{TCP: "127.0.0.1:1"})
	cases := map[string][]string{
		"usage":        {"only-one"},
		"missing file": {filepath.Join(t.TempDir(), "nope.json"), "0"},
		"unknown":      {writeSpec(t, Spec{Instances: map[string]Check{"0": good}}), "1"},
		"two probes":   {writeSpec(t, Spec{Instances: map[string]Check{"0": check(Check{TCP: "a:1", HTTP: "http://a/"})}}), "0"},
		"no probe":     {writeSpec(t, Spec{Instances: map[string]Check{"0": check(Check{})}}), "0"},
		"bad interval": {writeSpec(t, Spec{Instances: map[string]Check{"0": {TCP: "a:1", Interval: "soon", Timeout: "1s"}}}), "0"},
		"bad url":      {writeSpec(t, Spec{Instances: map[string]Check{"0": check(Check{HTTP: "ftp://a/"})}}), "0"},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			var log bytes.Buffer
			if code := run(context.Background(), args, &log, &fakeClock{}); code != exitBadUsage {
				t.Fatalf("exit %d, want %d: %s", code, exitBadUsage, log.String())
			}
		})
	}
}

// TestReadsWhatTheToolWrites: the check file unit.ProbeSpec renders is one
// this program loads, with every field it needs.
func TestReadsWhatTheToolWrites(t *testing.T) {
	s := &config.Service{Unit: config.Unit{Name: "api"}, Instances: []config.Instance{
		{Name: "0", Health: config.Health{TCP: "127.0.0.1:10002", Interval: 250 * time.Millisecond, Timeout: time.Second}},
		{Name: "blue", Health: config.Health{HTTP: "http://127.0.0.1:8000/ready?x=1", Interval: time.Minute, Timeout: 2 * time.Second}},
		{Name: "x", Health: config.Health{Exec: []string{"check", "it's"}, Interval: time.Second, Timeout: 3 * time.Second}},
	}}
	b, err := unit.ProbeSpec(s)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "api.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, in := range s.Instances {
		c, interval, timeout, err := load(p, in.Name)
		if err != nil {
			t.Fatal(err)
		}
		h := in.Health
		if c.TCP != h.TCP || c.HTTP != h.HTTP || strings.Join(c.Exec, "\x00") != strings.Join(h.Exec, "\x00") || interval != h.Interval || timeout != h.Timeout {
			t.Errorf("instance %s: loaded %+v %s %s, want %+v", in.Name, c, interval, timeout, h)
		}
	}
}
