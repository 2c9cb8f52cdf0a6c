// Command openim-standin stands in for the OpenIM binaries in the demo and
// the lab tests, so a whole fleet can be deployed without Kafka, MongoDB
// or the real servers. One build is copied under every OpenIM name; it
// picks its role from the base name it was started as (os.Args[0]):
//
//   - check-* (check-component, check-free-memory): a one-shot gate that
//     prints "ok" and exits 0, or exits 1 when STANDIN_FAIL=1.
//   - anything else: a long-running service started as OpenIM starts its
//     processes, "<name> -i <index> -c <config dir>". It listens on
//     ports[index], metrics_ports[index] and ws_ports[index] (each list
//     that is set) from <config dir>/standin.json, answers GET /healthz
//     and GET /metrics with 200 on all of them, and exits 0
//     on SIGTERM after an optional drain. An index past the port list
//     exits 1 with "index out of range", like OpenIM.
//
// Environment variables override the file, to make one instance misbehave
// for a test: STANDIN_PORTS, STANDIN_METRICS_PORTS (comma-separated),
// STANDIN_START_DELAY (wait before listening), STANDIN_CRASH_AFTER (exit 1
// after that long), STANDIN_DRAIN (wait after SIGTERM), STANDIN_HOST
// (listen address, default all interfaces), STANDIN_FAIL and STANDIN_PEERS
// (host:port of quorum peers; /healthz is 503 until all answer). It logs to
// stdout, which systemd sends to the journal. See docs/standin.md.
//
// A clustered service (etcd-like) is "-peer-listen ADDR -members FILE": it
// listens on its peer address at once, then waits until every member listed
// in FILE (one host:port a line) accepts a connection before it opens its
// service ports, so its health probe passes only once the cluster formed.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args, os.Getenv, os.Stdout))
}

// Spec is one binary's entry in standin.json. Durations are Go duration
// strings ("2s").
type Spec struct {
	Ports        []int `json:"ports,omitempty"`
	MetricsPorts []int `json:"metrics_ports,omitempty"`
	// WSPorts is openim-msggateway's WebSocket port list (longConnSvr.ports).
	WSPorts    []int  `json:"ws_ports,omitempty"`
	StartDelay string `json:"start_delay,omitempty"`
	CrashAfter string `json:"crash_after,omitempty"`
	Drain      string `json:"drain,omitempty"`
	Fail       bool   `json:"fail,omitempty"`
	// Peers are host:port addresses of the other members of a quorum
	// cluster: /healthz answers 503 until every one accepts a connection,
	// as etcd or ZooKeeper stay unhealthy until they have a quorum.
	Peers []string `json:"peers,omitempty"`
}

// ConfigFile is the name of the stand-in's config inside the -c directory.
const ConfigFile = "standin.json"

// run is main without the process around it, for tests. It returns the
// exit status.
func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) int {
	name := filepath.Base(args[0])
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	index := fs.Int("i", 0, "instance index: selects ports[i] and metrics_ports[i]")
	dir := fs.String("c", "", "config directory holding "+ConfigFile)
	peerListen := fs.String("peer-listen", "", "host:port to accept cluster peers on, before anything else")
	members := fs.String("members", "", "file listing every cluster member's peer host:port, one a line; serve only once all accept")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	logf := func(format string, a ...any) {
		fmt.Fprintf(out, "%s[%d]: %s\n", name, *index, fmt.Sprintf(format, a...))
	}
	spec, err := loadSpec(*dir, name, getenv)
	if err != nil {
		logf("%v", err)
		return 1
	}
	if strings.HasPrefix(name, "check-") {
		if spec.Fail {
			logf("failing as told (STANDIN_FAIL=1)")
			return 1
		}
		fmt.Fprintln(out, "ok")
		return 0
	}
	if *peerListen != "" {
		ln, err := net.Listen("tcp", *peerListen)
		if err != nil {
			logf("peer listen: %v", err)
			return 1
		}
		defer func() { _ = ln.Close() }()
		go acceptPeers(ln)
		logf("peer port listening on %s", ln.Addr())
	}
	if *members != "" {
		if err := waitMembers(ctx, *members, logf); err != nil {
			logf("%v", err)
			if ctx.Err() != nil {
				return 0 // stopped while waiting: a clean exit
			}
			return 1
		}
	}
	return serve(ctx, name, *index, spec, getenv("STANDIN_HOST"), logf)
}

// acceptPeers accepts and closes peer connections until ln is closed: a
// connection that succeeds is all a waiting member needs to see.
func acceptPeers(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		_ = c.Close()
	}
}

// waitMembers reads the member list and dials every member until all
// accept, retrying every 200 ms until ctx ends.
func waitMembers(ctx context.Context, file string, logf func(string, ...any)) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("read members: %w", err)
	}
	var addrs []string
	for line := range strings.SplitSeq(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			addrs = append(addrs, line)
		}
	}
	if len(addrs) == 0 {
		return fmt.Errorf("read members: %s lists no member", file)
	}
	logf("waiting for %d members: %s", len(addrs), strings.Join(addrs, ", "))
	var d net.Dialer
	for {
		missing := 0
		for _, a := range addrs {
			dctx, cancel := context.WithTimeout(ctx, time.Second)
			c, err := d.DialContext(dctx, "tcp", a)
			cancel()
			if err != nil {
				missing++
				continue
			}
			_ = c.Close()
		}
		if missing == 0 {
			logf("members: all %d reachable", len(addrs))
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped while %d of %d members were unreachable", missing, len(addrs))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// loadSpec reads dir/standin.json (when dir is set) and applies the
// environment on top. A check-* binary needs no file; a service with a
// -c directory but no file fails loudly, because that means the config
// file set did not reach the host.
func loadSpec(dir, name string, getenv func(string) string) (Spec, error) {
	var spec Spec
	if dir != "" {
		b, err := os.ReadFile(filepath.Join(dir, ConfigFile))
		switch {
		case err == nil:
			var all map[string]Spec
			if err := json.Unmarshal(b, &all); err != nil {
				return spec, fmt.Errorf("%s: %w", filepath.Join(dir, ConfigFile), err)
			}
			spec = all[name]
		case !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(name, "check-"):
			return spec, fmt.Errorf("read config: %w", err)
		}
	}
	var err error
	if v := getenv("STANDIN_PORTS"); v != "" {
		spec.Ports, err = parsePorts(v)
	}
	if v := getenv("STANDIN_METRICS_PORTS"); v != "" && err == nil {
		spec.MetricsPorts, err = parsePorts(v)
	}
	for key, field := range map[string]*string{
		"STANDIN_START_DELAY": &spec.StartDelay, "STANDIN_CRASH_AFTER": &spec.CrashAfter, "STANDIN_DRAIN": &spec.Drain,
	} {
		if v := getenv(key); v != "" {
			*field = v
		}
	}
	if getenv("STANDIN_FAIL") == "1" {
		spec.Fail = true
	}
	if v := getenv("STANDIN_PEERS"); v != "" {
		spec.Peers = strings.Split(v, ",")
	}
	return spec, err
}

func parsePorts(v string) ([]int, error) {
	var ports []int
	for f := range strings.SplitSeq(v, ",") {
		p, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || p < 0 || p > 65535 {
			return nil, fmt.Errorf("bad port %q", f)
		}
		ports = append(ports, p)
	}
	return ports, nil
}

func duration(what, v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	return d, nil
}

// pick returns ports[index]: (0, false) for an empty list (a port-less
// service such as openim-crontask), an error past its end, as OpenIM does.
func pick(what string, ports []int, index int) (int, bool, error) {
	if len(ports) == 0 {
		return 0, false, nil
	}
	if index < 0 || index >= len(ports) {
		return 0, false, fmt.Errorf("-i %d: index out of range: %s has %d entries", index, what, len(ports))
	}
	return ports[index], true, nil
}

// serve runs the service until ctx is done (SIGTERM), a crash is due, or
// listening fails.
func serve(ctx context.Context, name string, index int, spec Spec, host string, logf func(string, ...any)) int {
	delay, err1 := duration("start_delay", spec.StartDelay)
	crash, err2 := duration("crash_after", spec.CrashAfter)
	drain, err3 := duration("drain", spec.Drain)
	var ports []int
	var err4 error
	for _, l := range []struct {
		what string
		list []int
	}{{"ports", spec.Ports}, {"metrics_ports", spec.MetricsPorts}, {"ws_ports", spec.WSPorts}} {
		p, ok, err := pick(l.what, l.list, index)
		if ok {
			ports = append(ports, p)
		}
		err4 = errors.Join(err4, err)
	}
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		logf("%v", err)
		return 1
	}
	logf("starting (pid %d)", os.Getpid())
	var crashed <-chan time.Time
	if crash > 0 {
		crashed = time.After(crash) // counted from process start, like a real crash
	}
	if delay > 0 {
		logf("delaying start by %s", delay)
		select {
		case <-ctx.Done():
			logf("stopped before listening")
			return 0
		case <-crashed:
			logf("crashing as told (crash_after %s)", crash)
			return 1
		case <-time.After(delay):
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		for _, p := range spec.Peers {
			c, err := net.DialTimeout("tcp", p, 500*time.Millisecond)
			if err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintf(w, "waiting for peer %s\n", p)
				return
			}
			_ = c.Close()
		}
		fmt.Fprintln(w, "ok")
	})
	// Tests check that secrets arrived without the stand-in ever showing
	// one: the SHA-256 of an environment variable, or of a credential in
	// $CREDENTIALS_DIRECTORY; 404 when there is none.
	mux.HandleFunc("GET /sha256/env/{name}", func(w http.ResponseWriter, r *http.Request) {
		v, ok := os.LookupEnv(r.PathValue("name"))
		if !ok {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "%x\n", sha256.Sum256([]byte(v)))
	})
	mux.HandleFunc("GET /sha256/credential/{name}", func(w http.ResponseWriter, r *http.Request) {
		dir, n := os.Getenv("CREDENTIALS_DIRECTORY"), r.PathValue("name")
		if dir == "" || strings.ContainsAny(n, "/") || n == ".." {
			http.NotFound(w, r)
			return
		}
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "%x\n", sha256.Sum256(b))
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "# HELP standin_up The stand-in is up.\n# TYPE standin_up gauge\nstandin_up{name=%q,index=\"%d\"} 1\n", name, index)
	})
	var servers []*http.Server
	for _, p := range ports {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err != nil {
			logf("listen: %v", err)
			return 1
		}
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		servers = append(servers, srv)
		go func() { _ = srv.Serve(ln) }()
		logf("listening on %s", ln.Addr())
	}
	if len(servers) == 0 {
		logf("no ports configured; running without listening")
	}
	select {
	case <-crashed:
		logf("crashing as told (crash_after %s)", crash)
		return 1
	case <-ctx.Done():
	}
	logf("SIGTERM: draining for %s", drain)
	if drain > 0 {
		time.Sleep(drain) // a real server finishes in-flight work here; keep answering meanwhile
	}
	for _, srv := range servers {
		_ = srv.Close()
	}
	logf("stopped")
	return 0
}
