package phase

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/target/targettest"
	"github.com/openimsdk/openim-deploy/internal/ui"
)

// TestStartUnits_FirstCtrlCEndsThePause: the first Ctrl-C during the pause
// between batches ends the wait at once (nothing is under way then) and
// no further batch starts.
func TestStartUnits_FirstCtrlCEndsThePause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := fakeHost("h1"), fakeHost("h2")
		r, _ := newTestRun(t, 2, false, a, b)
		out := outputOf(r)
		intr := make(chan struct{})
		r.Opts.Interrupt = intr
		r.Opts.Rollout = func(p config.Rollout) config.Rollout { p.Pause = time.Hour; return p }
		start := time.Now()
		done := make(chan error, 1)
		go func() { done <- StartUnits{}.Run(t.Context(), r) }()
		waitForOutput(t, out, "pausing 1h0m0s") // blocked in the pause after batch 1
		close(intr)
		err := <-done
		require.ErrorIs(t, err, context.Canceled)
		require.Less(t, time.Since(start), time.Hour, "the pause was cut short")
		require.Empty(t, restarted(b), "no batch started after the Ctrl-C")
	})
}

// lockedBuffer is the run's output, read by the test while the run writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// outputOf sends r's output to a buffer the test can read while it runs.
func outputOf(r *Run) *lockedBuffer {
	out := &lockedBuffer{}
	r.Out = ui.New(out, ui.Options{})
	return out
}

// waitForOutput lets the bubble's fake time run, in steps, until the run
// printed want: the health gate before it sleeps on the clock too. Inside
// synctest.Test only; bounded.
func waitForOutput(t *testing.T, out *lockedBuffer, want string) {
	t.Helper()
	for range 1000 {
		synctest.Wait()
		if strings.Contains(out.String(), want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the run never printed %q:\n%s", want, out.String())
}

// TestStartUnits_FirstCtrlCEndsTheCanaryWait: the first Ctrl-C while the
// run waits for the operator to confirm a canary ends the wait.
func TestStartUnits_FirstCtrlCEndsTheCanaryWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := fakeHost("h1"), fakeHost("h2")
		r, _ := newTestRun(t, 2, false, a, b)
		out := outputOf(r)
		intr := make(chan struct{})
		r.Opts.Interrupt = intr
		r.Opts.Rollout = func(p config.Rollout) config.Rollout { p.Canary = 1; return p }
		r.Opts.Confirm = func(ctx context.Context, _ time.Duration) error {
			<-ctx.Done() // an operator who never answers
			return ctx.Err()
		}
		done := make(chan error, 1)
		go func() { done <- StartUnits{}.Run(t.Context(), r) }()
		waitForOutput(t, out, "waiting for confirmation")
		close(intr)
		require.ErrorIs(t, <-done, context.Canceled)
		require.Empty(t, restarted(b))
	})
}

// TestStartUnits_SecondCtrlCStopsTheRollback: a failed batch starts the
// auto-rollback, which the first Ctrl-C does not stop; a second one (the
// run's context cancelled) stops it before its next batch, and the report
// names the instances left on the release they were rolled to.
func TestStartUnits_SecondCtrlCStopsTheRollback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := fakeHost("h1"), fakeHost("h2", "rpc@0.service")
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var once sync.Once
		// h2's restart fails; the rollback's first restart (of h1) is where
		// the second Ctrl-C arrives.
		restarts := 0
		var mu sync.Mutex
		a.OnFunc(targettest.Contains("exec systemctl restart"), func(target.Cmd) (target.Result, error) {
			mu.Lock()
			defer mu.Unlock()
			restarts++
			if restarts == 2 {
				once.Do(cancel)
			}
			return target.Result{}, nil
		})
		r, out := newTestRun(t, 2, false, a, b)
		r.Opts.Rollout = func(p config.Rollout) config.Rollout { p.Batch = 1; p.MaxUnavailable = 1; return p }
		require.Error(t, StartUnits{}.Run(ctx, r))
		text := out.String()
		require.Contains(t, text, "auto-rollback")
		require.True(t, strings.Contains(text, "stopped by Ctrl-C before batch"), text)
	})
}
