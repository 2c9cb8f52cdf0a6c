package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/openimsdk/openim-deploy/internal/systemd"
	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/target/targettest"
)

// TestPoller pins that twenty gates polling side by side share a few
// "systemctl show" calls instead of one SSH session each, and still each
// get their own unit's state.
//
// The fake show waits (synctest.Wait) until every other goroutine of the
// bubble is blocked before it answers, so every gate that is due at this
// instant has queued its request by then. That makes the count exact
// rather than dependent on goroutine scheduling: at most two batches per
// poll round (the one already running when the others arrived, and the
// one they all join), whatever GOMAXPROCS is.
func TestPoller(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := targettest.NewFake("im-1")
		var mu sync.Mutex
		inFlight, maxInFlight := 0, 0
		f.OnFunc(targettest.HasPrefix("systemctl show -p "), func(cmd target.Cmd) (target.Result, error) {
			mu.Lock()
			inFlight++
			maxInFlight = max(maxInFlight, inFlight)
			mu.Unlock()
			synctest.Wait() // every due gate is now queued, or answered
			var out strings.Builder
			for _, u := range cmd.Args[5:] { // systemctl show -p PROPS -- units...
				pid := strings.TrimSuffix(strings.TrimPrefix(u, "s@"), ".service")
				out.WriteString("Id=" + u + "\nLoadState=loaded\nActiveState=active\nMainPID=" + pid + "\n\n")
			}
			mu.Lock()
			inFlight--
			mu.Unlock()
			return target.Result{Stdout: []byte(out.String())}, nil
		})
		p := NewPoller(f)
		var wg sync.WaitGroup
		errs := make([]error, 20)
		for i := range 20 {
			wg.Go(func() {
				unit := "s@" + strconv.Itoa(100+i) + ".service"
				state := p.State(unit)
				errs[i] = Wait(t.Context(), SystemClock{}, func(ctx context.Context) (systemd.UnitState, error) {
					st, err := state(ctx)
					if err == nil && st.ID != unit {
						t.Errorf("gate for %s got state of %s", unit, st.ID)
					}
					return st, err
				}, nil, Policy{})
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		polls := len(f.Commands())
		// 20 gates x 6 polls (0 s to 5 s) = 120 requests, in 6 rounds of
		// at most two batches each.
		rounds := int(DefaultStable/DefaultInterval + 1)
		if requests := 20 * rounds; maxInFlight != 1 || polls > 2*rounds {
			t.Errorf("%d show calls for %d requests, at most %d at once; want one at a time, well under one per request",
				polls, requests, maxInFlight)
		}
	})
}

// TestPollerConnectionLostIsPermanent pins that a gate whose host's
// connection is gone (rebooted, link cut: the target reports it
// unreachable) fails at the first poll, naming the cause, instead of
// polling a dead connection Retries times; a failure that may pass (a
// show that exited non-zero) is still retried.
func TestPollerConnectionLostIsPermanent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lost := fmt.Errorf("run systemctl show on im-1: open session: connection lost: %w (%w)", io.EOF, target.ErrUnreachable)
		f := targettest.NewFake("im-1")
		f.On(targettest.HasPrefix("systemctl show -p "), targettest.Reply{Err: lost})
		err := Wait(t.Context(), SystemClock{}, NewPoller(f).State("s@0.service"), nil, Policy{Retries: 5})
		if !errors.Is(err, ErrPermanent) || !errors.Is(err, target.ErrUnreachable) || !errors.Is(err, ErrUnhealthy) {
			t.Fatalf("Wait = %v; want an unhealthy, permanent, unreachable error", err)
		}
		if n := len(f.Commands()); n != 1 {
			t.Errorf("%d show calls on a lost connection; want 1", n)
		}

		f = targettest.NewFake("im-1")
		f.On(targettest.HasPrefix("systemctl show -p "), targettest.Reply{Code: 1, Stderr: "Failed to connect to bus"})
		err = Wait(t.Context(), SystemClock{}, NewPoller(f).State("s@0.service"), nil, Policy{Retries: 5})
		if !errors.Is(err, ErrUnhealthy) || errors.Is(err, ErrPermanent) {
			t.Fatalf("Wait = %v; want unhealthy after retries, not permanent", err)
		}
		if n := len(f.Commands()); n != 5 {
			t.Errorf("%d show calls for a failing show; want 5 (Retries)", n)
		}
	})
}
