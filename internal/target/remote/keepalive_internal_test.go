package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/target/targettest"
)

// TestKeepaliveClosesDeadConnection: a peer that stops answering is
// detected after KeepaliveMax missed keepalives, and later calls fail as
// unreachable instead of hanging.
func TestKeepaliveClosesDeadConnection(t *testing.T) {
	h := targettest.NewHost(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tg, err := Dial(ctx, Config{
		Address: "127.0.0.1", Port: h.Port, User: "root",
		Identity: h.KeyPath, KnownHosts: h.KnownHostsPath, SSHConfigFile: "none",
		KeepaliveInterval: 20 * time.Millisecond, KeepaliveMax: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	if _, err := tg.Run(ctx, target.Cmd{Args: []string{"true"}}); err != nil {
		t.Fatal(err)
	}
	h.MuteKeepalives()
	select {
	case <-tg.lostChan():
	case <-ctx.Done():
		t.Fatal("connection to a silent peer was never closed")
	}
	if _, err := tg.Run(ctx, target.Cmd{Args: []string{"true"}}); !errors.Is(err, target.ErrUnreachable) {
		t.Fatalf("Run after keepalive failure: %v", err)
	}
}

func TestKeepaliveHealthyConnectionStays(t *testing.T) {
	h := targettest.NewHost(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tg, err := Dial(ctx, Config{
		Address: "127.0.0.1", Port: h.Port, User: "root",
		Identity: h.KeyPath, KnownHosts: h.KnownHostsPath, SSHConfigFile: "none",
		// Many rounds, but a generous miss budget: a loaded machine may
		// answer one late, and this test is about a healthy peer staying.
		KeepaliveInterval: 10 * time.Millisecond, KeepaliveMax: 100,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	// Many keepalive rounds pass while these commands run.
	for range 20 {
		if _, err := tg.Run(ctx, target.Cmd{Args: []string{"sleep", "0.01"}}); err != nil {
			t.Fatal(err)
		}
	}
	if tg.lost() {
		t.Fatal("a healthy connection was closed by keepalive")
	}
}

func TestParseProxyJump(t *testing.T) {
	c, err := parseProxyJump("a, ops@b:2222")
	if err != nil {
		t.Fatal(err)
	}
	if c.Address != "b" || c.Port != 2222 || c.User != "ops" || c.Jump == nil || c.Jump.Address != "a" || c.Jump.Jump != nil {
		t.Fatalf("parsed %+v (jump %+v)", c, c.Jump)
	}
	if _, err := parseProxyJump("a,,b"); err == nil {
		t.Error("empty hop accepted")
	}
}

func TestCommandLine(t *testing.T) {
	tg := &Target{user: "deploy", become: true}
	cmd := target.Cmd{Args: []string{"systemctl", "restart", "openim api"}, Sudo: true, Env: []string{"X=1"}}
	if got, _, _ := tg.commandLine(cmd); got != "sudo -n -- env X=1 systemctl restart 'openim api'" {
		t.Errorf("commandLine = %q", got)
	}
	tg.become = false
	if got, _, sudo := tg.commandLine(cmd); sudo || got != "env X=1 systemctl restart 'openim api'" {
		t.Errorf("without become: %q", got)
	}
}

// TestCommandLineScript pins that a "sh -c" script never reaches the
// command line: the login shell sees only the fixed wrapper and $0, and
// the script with its arguments comes first on stdin.
func TestCommandLineScript(t *testing.T) {
	tg := &Target{user: "root"}
	script := "set -e\nprintf '%s\\n' \"$@\"\n"
	cmd := target.Cmd{Args: []string{"sh", "-c", script, "probe", "a b", "$(id)"}, Stdin: strings.NewReader("payload")}
	line, stdin, _ := tg.commandLine(cmd)
	if want := "sh -c " + target.Quote(target.ScriptWrapper) + " probe"; line != want {
		t.Errorf("commandLine = %q, want %q", line, want)
	}
	got, err := io.ReadAll(stdin)
	if err != nil {
		t.Fatal(err)
	}
	body := "set -- 'a b' '$(id)'\n" + script
	if want := fmt.Sprintf("%d\n%spayload", len(body), body); string(got) != want {
		t.Errorf("stdin = %q, want %q", got, want)
	}
}

// TestKeepaliveMidCommand pins the outcome of a peer that goes silent
// while a command runs: the command returns once keepalives give up, its
// outcome unknown and the host unreachable, never a plain failure.
func TestKeepaliveMidCommand(t *testing.T) {
	h := targettest.NewHost(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tg, err := Dial(ctx, Config{
		Address: "127.0.0.1", Port: h.Port, User: "root",
		Identity: h.KeyPath, KnownHosts: h.KnownHostsPath, SSHConfigFile: "none",
		KeepaliveInterval: 20 * time.Millisecond, KeepaliveMax: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	h.MuteKeepalives()
	_, err = tg.Run(ctx, target.Cmd{Args: []string{"sleep", "15"}})
	if !errors.Is(err, target.ErrUnknownOutcome) || !errors.Is(err, target.ErrUnreachable) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want unknown outcome on an unreachable host", err)
	}
}
