package health

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/target/targettest"
)

// dialVia returns a Fake whose DialContext records the address asked for
// and connects to real instead, standing in for the SSH direct-tcpip hop.
func dialVia(t *testing.T, real string) (*targettest.Fake, *[]string) {
	t.Helper()
	f := targettest.NewFake("im-1")
	var asked []string
	f.SetDial(func(ctx context.Context, network, addr string) (net.Conn, error) {
		asked = append(asked, network+" "+addr)
		var d net.Dialer
		return d.DialContext(ctx, network, real)
	})
	return f, &asked
}

// TestTCP pins that the TCP probe dials the configured address through the
// target (the host's own loopback) and fails once the port is closed.
func TestTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, asked := dialVia(t, ln.Addr().String())
	probe := FromConfig(f, config.Health{TCP: "127.0.0.1:10002"})
	if err := probe(t.Context()); err != nil {
		t.Fatalf("open port: %v", err)
	}
	if len(*asked) != 1 || (*asked)[0] != "tcp 127.0.0.1:10002" {
		t.Errorf("dialled %q, want the configured address through the target", *asked)
	}
	_ = ln.Close()
	if err := probe(t.Context()); err == nil || !strings.HasPrefix(err.Error(), "tcp 127.0.0.1:10002: ") {
		t.Errorf("closed port: err = %v", err)
	}
}

// TestHTTP pins the HTTP probe: 2xx and 3xx pass without following the
// redirect, other statuses fail with the status and a body snippet, and
// the request goes through the target's dialer to the configured URL.
func TestHTTP(t *testing.T) {
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.Host+r.URL.Path)
		switch r.URL.Path {
		case "/healthz":
			w.WriteHeader(http.StatusNoContent)
		case "/moved":
			http.Redirect(w, r, "http://elsewhere.invalid/", http.StatusFound)
		default:
			http.Error(w, "draining\nbye", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	f, _ := dialVia(t, srv.Listener.Addr().String())

	for _, path := range []string{"/healthz", "/moved"} {
		if err := HTTP(f, "http://127.0.0.1:10002"+path)(t.Context()); err != nil {
			t.Errorf("GET %s: %v", path, err)
		}
	}
	err := FromConfig(f, config.Health{HTTP: "http://127.0.0.1:10002/metrics"})(t.Context())
	want := "GET http://127.0.0.1:10002/metrics: 503 Service Unavailable: draining bye"
	if err == nil || err.Error() != want {
		t.Errorf("503: err = %v, want %q", err, want)
	}
	if strings.Join(paths, ",") != "127.0.0.1:10002/healthz,127.0.0.1:10002/moved,127.0.0.1:10002/metrics" {
		t.Errorf("server saw %q", paths)
	}
	if err := HTTP(f, "http://bad host/")(t.Context()); !errors.Is(err, ErrPermanent) {
		t.Errorf("bad URL: err = %v, want ErrPermanent", err)
	}
}

// TestExec pins that the exec probe runs the argv on the host and that a
// non-zero exit fails it with the command's error.
func TestExec(t *testing.T) {
	f := targettest.NewFake("im-1")
	f.On(targettest.Equal("redis-cli -p 16379 ping"), targettest.Reply{Stdout: "PONG\n"})
	f.On(targettest.Equal("false"), targettest.Reply{Code: 1, Stderr: "nope"})
	if err := FromConfig(f, config.Health{Exec: []string{"redis-cli", "-p", "16379", "ping"}})(t.Context()); err != nil {
		t.Errorf("exit 0: %v", err)
	}
	var ee *target.ExitError
	if err := Exec(f, []string{"false"})(t.Context()); !errors.As(err, &ee) || ee.Code != 1 {
		t.Errorf("exit 1: err = %v", err)
	}
	if FromConfig(f, config.Health{}) != nil {
		t.Error("FromConfig with no probe should be nil (stable window alone)")
	}
}

// TestUnitState pins that the gate's state function is one read-only
// systemctl show of the unit.
func TestUnitState(t *testing.T) {
	f := targettest.NewFake("im-1")
	f.On(targettest.HasPrefix("systemctl show -p "), targettest.Reply{Stdout: "Id=a@0.service\nActiveState=active\nMainPID=5\n"})
	st, err := UnitState(target.ReadOnly(f), "a@0.service")(t.Context())
	if err != nil || st.MainPID != 5 {
		t.Fatalf("UnitState = %+v, %v", st, err)
	}
	targettest.ReceivedMatch(t, f, ` -- a@0\.service$`)
}

// TestPolicyFor pins the defaults and that configured values win.
func TestPolicyFor(t *testing.T) {
	p := PolicyFor(config.Health{})
	if p != (Policy{Interval: DefaultInterval, Timeout: DefaultTimeout, Retries: DefaultRetries, Stable: DefaultStable}) {
		t.Errorf("defaults = %+v", p)
	}
	h := config.Health{Interval: 2e9, Timeout: 1e9, Retries: 3, Stable: 10e9}
	if p := PolicyFor(h); p != (Policy{Interval: h.Interval, Timeout: h.Timeout, Retries: 3, Stable: h.Stable}) {
		t.Errorf("configured = %+v", p)
	}
}
