package remote_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/target/targettest"
)

// TestMaxSessionsAdapts pins that a host allowing two sessions per
// connection (sshd MaxSessions 2) gets fewer concurrent sessions, and that
// every command still runs: a refused session is back-pressure, never
// "unreachable".
func TestMaxSessionsAdapts(t *testing.T) {
	started := make(chan struct{}, 16)
	release := make(chan struct{})
	block := func(ctx context.Context, _ []string, _ io.Reader, stdout, _ io.Writer) int {
		started <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
			return 137
		}
		_, _ = io.WriteString(stdout, "done\n")
		return 0
	}
	h := targettest.NewHost(t, targettest.WithMaxSessions(2), targettest.WithCommand("block", block))
	tg := dial(t, config(h))
	defer tg.Close()

	const n = 6
	errs := make([]error, n)
	outs := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			res, err := tg.Run(ctxT(t), target.Cmd{Args: []string{"block"}})
			errs[i], outs[i] = err, string(res.Stdout)
		})
	}
	// Two commands hold the host's two sessions and a third has been
	// refused; the rest queue. Then let everything finish.
	<-started
	<-started
	<-h.Refused()
	close(release)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("command %d: %v (unreachable: %v)", i, err, errors.Is(err, target.ErrUnreachable))
		}
		if outs[i] != "done\n" {
			t.Errorf("command %d printed %q", i, outs[i])
		}
	}
	peak, refused := h.SessionStats()
	if peak > 2 {
		t.Errorf("host saw %d sessions at once, allows 2", peak)
	}
	if refused == 0 {
		t.Error("the host never refused a session: the test did not exercise MaxSessions")
	}
	// Later commands still work on the same connection.
	if _, err := tg.Run(ctxT(t), target.Cmd{Args: []string{"true"}}); err != nil {
		t.Fatalf("after adapting: %v", err)
	}
}

// TestSessionRefusedWithNoneOpen pins the bounded end: a host that
// refuses every session while none of ours is open fails the command with
// the reason, and does not mark the host unreachable.
func TestSessionRefusedWithNoneOpen(t *testing.T) {
	h := targettest.NewHost(t, targettest.WithMaxSessions(1))
	tg := dial(t, config(h))
	defer tg.Close()
	// The SFTP client holds the host's only session.
	if _, err := tg.Stat(ctxT(t), "/"); err != nil {
		t.Fatal(err)
	}
	_, err := tg.Run(ctxT(t), target.Cmd{Args: []string{"true"}})
	if err == nil || errors.Is(err, target.ErrUnreachable) || !strings.Contains(err.Error(), "MaxSessions") {
		t.Fatalf("err = %v, want a session refusal that names MaxSessions and is not unreachable", err)
	}
}

// TestForwardingDisabled pins that a host refusing direct-tcpip
// (AllowTcpForwarding no) is detected as such for pre-flight, and that a
// probe dial goes to the host-side relay and fails fast with that reason
// when the relay cannot run (this fake host has no bash).
func TestForwardingDisabled(t *testing.T) {
	h := targettest.NewHost(t, targettest.WithoutTCPForwarding())
	tg := dial(t, config(h))
	defer tg.Close()
	if err := tg.TCPForwarding(ctxT(t)); !errors.Is(err, target.ErrForwardingDisabled) {
		t.Fatalf("TCPForwarding = %v, want ErrForwardingDisabled", err)
	}
	_, err := tg.DialContext(ctxT(t), "tcp", "127.0.0.1:10002")
	if !errors.Is(err, target.ErrForwardingDisabled) || errors.Is(err, target.ErrUnreachable) {
		t.Fatalf("dial = %v, want a relay failure naming ErrForwardingDisabled", err)
	}
	ok := targettest.NewHost(t)
	tg2 := dial(t, config(ok))
	defer tg2.Close()
	if err := tg2.TCPForwarding(ctxT(t)); err != nil {
		t.Fatalf("TCPForwarding on a forwarding host = %v", err)
	}
}
