// Package health decides when a started unit counts as healthy. It has two
// parts: probes, k0sctl-style "status funcs" that return an error until a
// condition holds (a TCP port accepts, an HTTP endpoint answers 2xx/3xx, a
// command exits 0), and Wait, the gate that combines a probe with systemd's
// own view of the unit over a stability window.
//
// Probes reach the service from the host's point of view through
// target.Target: TCP and HTTP dial through Target.DialContext (an SSH
// direct-tcpip channel, so 127.0.0.1 is the host's loopback), which keeps
// hosts agentless: no curl or nc needed.
package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/systemd"
	"github.com/openimsdk/openim-deploy/internal/target"
)

// Probe checks one condition once. It returns nil when the condition holds,
// an error saying what was seen otherwise, or an error wrapping ErrPermanent
// when waiting longer cannot help. Wait bounds each call with the policy's
// Timeout through ctx.
type Probe func(ctx context.Context) error

// ErrPermanent, wrapped in a probe's or Wait's error, means retrying cannot
// succeed (like retry.ErrAbort): the unit hit its start limit, is not
// loaded, or a probe decided so. Wait stops at once.
var ErrPermanent = errors.New("permanent failure")

// ErrUnhealthy is wrapped by every error Wait returns when a unit failed
// its gate (as opposed to the caller's context ending).
var ErrUnhealthy = errors.New("health gate failed")

// FromConfig returns the probe h describes: TCP, HTTP or Exec, in that
// order of precedence (config validation allows only one). It returns nil
// when h has no probe, in which case Wait judges by the stable window alone.
func FromConfig(t target.Target, h config.Health) Probe {
	switch {
	case h.TCP != "":
		return TCP(t, h.TCP)
	case h.HTTP != "":
		return HTTP(t, h.HTTP)
	case len(h.Exec) > 0:
		return Exec(t, h.Exec)
	}
	return nil
}

// TCP returns a probe that passes when addr ("127.0.0.1:10002") accepts a
// TCP connection on the host. Over SSH, sshd connects before it confirms
// the direct-tcpip channel, so a closed port fails the dial rather than
// yielding a connection that dies later.
func TCP(t target.Target, addr string) Probe {
	return func(ctx context.Context) error {
		conn, err := t.DialContext(ctx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("tcp %s: %w", addr, err)
		}
		return conn.Close()
	}
}

// HTTP returns a probe that passes when GET url, sent from the host, gets
// a 2xx or 3xx status. Redirects are not followed: a 3xx already proves
// the server is up, and following one could leave the host.
//
// The client has its own Transport with no proxy: the controller's
// HTTP_PROXY must never apply to the host's loopback. Keep-alives are off
// because polls are a second or more apart and a pooled connection over a
// dead SSH channel would only produce confusing errors.
func HTTP(t target.Target, url string) Probe {
	client := &http.Client{
		Transport: &http.Transport{
			DialContext:       t.DialContext,
			Proxy:             nil,
			DisableKeepAlives: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("GET %s: %w: %w", url, err, ErrPermanent)
		}
		resp, err := client.Do(req)
		if err != nil {
			return err // *url.Error already names the method and URL
		}
		defer func() { _ = resp.Body.Close() }()
		if resp.StatusCode >= 200 && resp.StatusCode < 400 {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			return nil
		}
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		msg := fmt.Sprintf("GET %s: %s", url, resp.Status)
		if s := strings.TrimSpace(string(snippet)); s != "" {
			msg += ": " + strings.ReplaceAll(s, "\n", " ")
		}
		return errors.New(msg)
	}
}

// Exec returns a probe that runs argv on the host as the login user and
// passes when it exits 0. The command is the playbook's, so it is not
// marked read-only; probes only run during apply.
func Exec(t target.Target, argv []string) Probe {
	return func(ctx context.Context) error {
		_, err := t.Run(ctx, target.Cmd{Args: argv})
		return err // *target.ExitError names the command, status and stderr
	}
}

// UnitState returns the function Wait polls for unit's systemd state: one
// "systemctl show" per poll.
func UnitState(t target.Target, unit string) func(ctx context.Context) (systemd.UnitState, error) {
	return func(ctx context.Context) (systemd.UnitState, error) {
		states, err := systemd.Show(ctx, t, unit)
		if err != nil {
			return systemd.UnitState{}, err
		}
		return states[0], nil
	}
}
