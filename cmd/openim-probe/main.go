// Command openim-probe is the readiness probe openim-deploy puts into every
// release whose services wait for their health check in the unit itself
// (docs/units.md, "Readiness in the unit"). systemd runs it as the unit's
// ExecStartPost=:
//
//	openim-probe SPECFILE INSTANCE
//
// It reads the instance's health check from SPECFILE (JSON written by the
// tool, see Spec) and tries it every interval until it passes, then exits
// 0: the unit becomes active only then, so After= on it means "after
// healthy", at boot and on every automatic restart as during a deploy. It
// never gives up by itself: the unit's TimeoutStartSec= bounds it (systemd
// kills it and fails the start, and Restart= takes over).
//
// It is a static Go binary with no dependency on the host (no curl, no
// bash, no agent): it runs only while a unit starts, and exits.
//
//   - tcp: a TCP connection to host:port is accepted;
//   - http: GET url answers 2xx or 3xx (HTTP/1.1, no redirects followed);
//     an https URL is checked by a TCP connection to its host and port
//     only, which keeps TLS out of the binary (the tool's own gate still
//     makes the full request);
//   - exec: the argv exits 0 (looked up in PATH, run in the unit's working
//     directory, as the unit's user, with its environment).
//
// Exit statuses: 0 ready, 2 a bad spec or usage (nothing was probed).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Spec is the file the tool writes for one service: each instance's check.
type Spec struct {
	Instances map[string]Check `json:"instances"`
}

// Check is one instance's health check, as the playbook's health block
// evaluated it for this host. Exactly one of TCP, HTTP and Exec is set.
type Check struct {
	TCP      string   `json:"tcp,omitempty"`
	HTTP     string   `json:"http,omitempty"`
	Exec     []string `json:"exec,omitempty"`
	Interval string   `json:"interval"` // Go duration: the pause between tries
	Timeout  string   `json:"timeout"`  // Go duration: the bound of one try
}

const (
	exitReady    = 0
	exitBadUsage = 2
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stderr, realClock{}))
}

// clock is the seam for waiting, so tests never sleep.
type clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration)
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
func (realClock) Sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// run is main without the process around it. It returns the exit status.
func run(ctx context.Context, args []string, log io.Writer, clk clock) int {
	if len(args) != 2 {
		fmt.Fprintln(log, "usage: openim-probe SPECFILE INSTANCE")
		return exitBadUsage
	}
	c, interval, timeout, err := load(args[0], args[1])
	if err != nil {
		fmt.Fprintf(log, "openim-probe: %v\n", err)
		return exitBadUsage
	}
	try := tryFunc(c)
	start := clk.Now()
	last := ""
	for n := 1; ; n++ {
		tctx, cancel := context.WithTimeout(ctx, timeout)
		err := try(tctx)
		cancel()
		if err == nil {
			fmt.Fprintf(log, "ready: %s answered after %s (%d tries)\n", c.describe(), round(clk.Now().Sub(start)), n)
			return exitReady
		}
		if ctx.Err() != nil {
			fmt.Fprintf(log, "not ready: %s: %v\n", c.describe(), err)
			return 1
		}
		// One line per new reason, not one per try: a slow start must not
		// flood the journal.
		if msg := err.Error(); msg != last {
			fmt.Fprintf(log, "waiting: %s: %s\n", c.describe(), msg)
			last = msg
		}
		clk.Sleep(ctx, interval)
	}
}

func round(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

// load reads the check of instance from the spec file.
func load(file, instance string) (Check, time.Duration, time.Duration, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return Check{}, 0, 0, err
	}
	var s Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return Check{}, 0, 0, fmt.Errorf("%s: %w", file, err)
	}
	c, ok := s.Instances[instance]
	if !ok {
		return Check{}, 0, 0, fmt.Errorf("%s: no check for instance %q", file, instance)
	}
	n := 0
	for _, set := range []bool{c.TCP != "", c.HTTP != "", len(c.Exec) > 0} {
		if set {
			n++
		}
	}
	if n != 1 {
		return Check{}, 0, 0, fmt.Errorf("%s: instance %q: exactly one of tcp, http and exec must be set", file, instance)
	}
	interval, err1 := time.ParseDuration(c.Interval)
	timeout, err2 := time.ParseDuration(c.Timeout)
	if err1 != nil || err2 != nil || interval <= 0 || timeout <= 0 {
		return Check{}, 0, 0, fmt.Errorf("%s: instance %q: interval and timeout must be positive durations", file, instance)
	}
	if c.HTTP != "" {
		if _, _, err := httpTarget(c.HTTP); err != nil {
			return Check{}, 0, 0, fmt.Errorf("%s: instance %q: %w", file, instance, err)
		}
	}
	return c, interval, timeout, nil
}

func (c Check) describe() string {
	switch {
	case c.TCP != "":
		return "tcp " + c.TCP
	case c.HTTP != "":
		return "http " + c.HTTP
	default:
		return "exec " + strings.Join(c.Exec, " ")
	}
}

func tryFunc(c Check) func(context.Context) error {
	switch {
	case c.TCP != "":
		return func(ctx context.Context) error { return dial(ctx, c.TCP) }
	case c.HTTP != "":
		return func(ctx context.Context) error { return get(ctx, c.HTTP) }
	default:
		return func(ctx context.Context) error { return runExec(ctx, c.Exec) }
	}
}

func dial(ctx context.Context, addr string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return conn.Close()
}

// httpTarget returns the address to dial and the request target of raw.
func httpTarget(raw string) (addr, path string, err error) {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", "", fmt.Errorf("http = %q is not an http:// or https:// URL", raw)
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(u.Hostname(), port), u.RequestURI(), nil
}

// get sends GET raw over HTTP/1.1 and passes on a 2xx or 3xx status line.
func get(ctx context.Context, raw string) error {
	addr, target, err := httpTarget(raw)
	if err != nil {
		return err
	}
	if strings.HasPrefix(raw, "https:") {
		return dial(ctx, addr)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	u, _ := url.Parse(raw)
	req := "GET " + target + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUser-Agent: openim-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return fmt.Errorf("read status line: %w", err)
	}
	f := strings.Fields(line)
	if len(f) < 2 || !strings.HasPrefix(f[0], "HTTP/") {
		return fmt.Errorf("not an HTTP response: %q", strings.TrimSpace(line))
	}
	code, err := strconv.Atoi(f[1])
	if err != nil || code < 200 || code >= 400 {
		return fmt.Errorf("status %s", strings.TrimSpace(strings.Join(f[1:], " ")))
	}
	return nil
}

func runExec(ctx context.Context, argv []string) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var out tail
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err == nil {
		return nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ctx.Err() == nil {
		err = fmt.Errorf("exit status %d", ee.ExitCode())
	} else if ctx.Err() != nil {
		err = fmt.Errorf("timed out")
	}
	if s := out.last(); s != "" {
		return fmt.Errorf("%w: %s", err, s)
	}
	return err
}

// tail keeps the last 200 bytes a command wrote, for the message.
type tail struct{ b []byte }

func (t *tail) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 200 {
		t.b = t.b[len(t.b)-200:]
	}
	return len(p), nil
}

func (t *tail) last() string {
	lines := strings.Split(strings.TrimSpace(string(t.b)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
