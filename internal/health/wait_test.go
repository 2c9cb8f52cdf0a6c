package health

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/openimsdk/openim-deploy/internal/systemd"
)

// running is a healthy unit state with the given main PID and restart count.
func running(pid, restarts int) systemd.UnitState {
	return systemd.UnitState{ID: "openim-api@0.service", LoadState: "loaded", ActiveState: "active",
		SubState: "running", MainPID: pid, NRestarts: restarts}
}

// autoRestart is a unit between two automatic restarts.
func autoRestart(restarts int) systemd.UnitState {
	return systemd.UnitState{ID: "openim-api@0.service", LoadState: "loaded", ActiveState: "activating",
		SubState: "auto-restart", Result: "exit-code", ExecMainStatus: 1, NRestarts: restarts}
}

// script returns a unitState func whose answer depends on fake time since
// the gate started, and counts its calls.
func script(fn func(el time.Duration) systemd.UnitState) (func(context.Context) (systemd.UnitState, error), *int) {
	start := time.Now()
	calls := 0
	return func(context.Context) (systemd.UnitState, error) {
		calls++
		return fn(time.Since(start)), nil
	}, &calls
}

// gateRun runs Wait in a synctest bubble (fake time) and returns its error
// and how much fake time it took.
func gateRun(t *testing.T, fn func(el time.Duration) systemd.UnitState, probe Probe, p Policy) (error, time.Duration) {
	t.Helper()
	var (
		err     error
		elapsed time.Duration
	)
	synctest.Test(t, func(t *testing.T) {
		state, _ := script(fn)
		start := time.Now()
		err = Wait(t.Context(), SystemClock{}, state, probe, p)
		elapsed = time.Since(start)
	})
	return err, elapsed
}

// TestWait_StableWindowAlone pins that a unit with no probe passes after
// exactly the stable window, not at the first "active".
func TestWait_StableWindowAlone(t *testing.T) {
	err, el := gateRun(t, func(time.Duration) systemd.UnitState { return running(42, 0) }, nil, Policy{})
	if err != nil || el != DefaultStable {
		t.Fatalf("Wait = %v after %s, want nil after %s", err, el, DefaultStable)
	}
}

// TestWait_SlowStart pins that the window opens only when the unit turns
// active: activating for 3 s then active means healthy at 3 s + Stable.
func TestWait_SlowStart(t *testing.T) {
	err, el := gateRun(t, func(el time.Duration) systemd.UnitState {
		if el < 3*time.Second {
			return systemd.UnitState{ID: "x.service", LoadState: "loaded", ActiveState: "activating", SubState: "start"}
		}
		return running(7, 0)
	}, nil, Policy{})
	if err != nil || el != 8*time.Second {
		t.Fatalf("Wait = %v after %s, want nil after 8s", err, el)
	}
}

// TestWait_ExitsAfterTwoSeconds is the pitfall from systemd/systemd#2309:
// "systemctl start" succeeded, but the binary exits 2 s later and systemd
// restarts it every 5 s. The gate must fail, and say so plainly.
func TestWait_ExitsAfterTwoSeconds(t *testing.T) {
	err, el := gateRun(t, func(el time.Duration) systemd.UnitState {
		cycle := int(el / (7 * time.Second)) // 2 s up, 5 s RestartSec
		if el%(7*time.Second) < 2*time.Second {
			return running(100+cycle, cycle)
		}
		return autoRestart(cycle + 1)
	}, nil, Policy{Retries: 10})
	if !errors.Is(err, ErrUnhealthy) || errors.Is(err, ErrPermanent) {
		t.Fatalf("Wait = %v, want ErrUnhealthy and not ErrPermanent", err)
	}
	want := "openim-api@0.service: exited 2s after start (NRestarts 0 → 2, ActiveState=activating auto-restart)"
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error = %q\nwant prefix %q", err, want)
	}
	if el > 20*time.Second {
		t.Errorf("gave up after %s; 10 retries at 1s should take under 20s", el)
	}
}

// TestWait_PIDChangeResetsWindow pins that a restart between two polls
// (new MainPID, never seen inactive) restarts the window.
func TestWait_PIDChangeResetsWindow(t *testing.T) {
	err, el := gateRun(t, func(el time.Duration) systemd.UnitState {
		if el < 3*time.Second {
			return running(1, 0)
		}
		return running(2, 1)
	}, nil, Policy{})
	if err != nil || el != 8*time.Second {
		t.Fatalf("Wait = %v after %s, want nil after 8s (window reopened at 3s)", err, el)
	}
}

// TestWait_Permanent pins the states that stop the gate at the first poll.
func TestWait_Permanent(t *testing.T) {
	for name, tc := range map[string]struct {
		st   systemd.UnitState
		want string
	}{
		"start limit": {
			st:   systemd.UnitState{ID: "a@1.service", LoadState: "loaded", ActiveState: "failed", Result: "start-limit-hit"},
			want: "a@1.service: start limit hit, systemd gave up restarting it; fix the cause, then run `systemctl reset-failed a@1.service`",
		},
		"not found": {
			st:   systemd.UnitState{ID: "b.service", LoadState: "not-found", ActiveState: "inactive"},
			want: "b.service: unit not loaded (LoadState=not-found)",
		},
	} {
		t.Run(name, func(t *testing.T) {
			err, el := gateRun(t, func(time.Duration) systemd.UnitState { return tc.st }, nil, Policy{})
			if !errors.Is(err, ErrPermanent) || !errors.Is(err, ErrUnhealthy) || el != 0 {
				t.Fatalf("Wait = %v after %s, want ErrPermanent at once", err, el)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error = %q, want prefix %q", err, tc.want)
			}
		})
	}
}

// TestWait_Probe pins that the probe must pass as well: a port that opens
// at 3 s still passes at Stable, one that opens at 7 s passes at 7 s, and
// one that never opens fails after Retries with the probe's error.
func TestWait_Probe(t *testing.T) {
	for _, tc := range []struct {
		opensAt time.Duration
		want    time.Duration
	}{{3 * time.Second, 5 * time.Second}, {7 * time.Second, 7 * time.Second}} {
		var start time.Time
		probe := func(context.Context) error {
			if time.Since(start) < tc.opensAt {
				return errors.New("tcp 127.0.0.1:10002: connection refused")
			}
			return nil
		}
		synctest.Test(t, func(t *testing.T) {
			start = time.Now()
			state, _ := script(func(time.Duration) systemd.UnitState { return running(9, 0) })
			if err := Wait(t.Context(), SystemClock{}, state, probe, Policy{}); err != nil {
				t.Fatal(err)
			}
			if el := time.Since(start); el != tc.want {
				t.Errorf("port opening at %s: healthy after %s, want %s", tc.opensAt, el, tc.want)
			}
		})
	}

	refused := errors.New("connection refused")
	err, el := gateRun(t, func(time.Duration) systemd.UnitState { return running(9, 0) },
		func(context.Context) error { return refused }, Policy{Retries: 4})
	if !errors.Is(err, refused) || !errors.Is(err, ErrUnhealthy) || el != 3*time.Second {
		t.Fatalf("Wait = %v after %s, want the probe error after 3s (4 failed polls)", err, el)
	}
	if !strings.Contains(err.Error(), "health check still failing after 4 attempts over 3s") {
		t.Errorf("error = %q", err)
	}
}

// TestWait_ProbeTimeoutAndPermanent pins that each probe call is bounded
// by Timeout, and that a probe's ErrPermanent stops the gate at once.
func TestWait_ProbeTimeoutAndPermanent(t *testing.T) {
	hang := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	err, el := gateRun(t, func(time.Duration) systemd.UnitState { return running(9, 0) }, hang,
		Policy{Timeout: 2 * time.Second, Retries: 2})
	if !errors.Is(err, context.DeadlineExceeded) || el != 5*time.Second {
		t.Fatalf("Wait = %v after %s, want DeadlineExceeded after 2+1+2 s", err, el)
	}

	bad := func(context.Context) error { return errors.Join(errors.New("bad URL"), ErrPermanent) }
	err, el = gateRun(t, func(time.Duration) systemd.UnitState { return running(9, 0) }, bad, Policy{})
	if !errors.Is(err, ErrPermanent) || el != 0 {
		t.Fatalf("Wait = %v after %s, want ErrPermanent at once", err, el)
	}
}

// TestWait_StateErrors pins that a transient failure to read the state
// counts as a failed poll, and that the caller's cancellation wins.
func TestWait_StateErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := 0
		state := func(context.Context) (systemd.UnitState, error) {
			if n++; n <= 2 {
				return systemd.UnitState{}, errors.New("ssh: connection reset")
			}
			return running(3, 0), nil
		}
		start := time.Now()
		if err := Wait(t.Context(), SystemClock{}, state, nil, Policy{}); err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el != 7*time.Second {
			t.Errorf("healthy after %s, want 7s (2 failed polls, then the window)", el)
		}

		down := func(context.Context) (systemd.UnitState, error) { return systemd.UnitState{}, errors.New("ssh: down") }
		err := Wait(t.Context(), SystemClock{}, down, nil, Policy{Retries: 3})
		if err == nil || !strings.Contains(err.Error(), "unit: cannot read unit state (3 attempts over 2s): health gate failed: ssh: down") {
			t.Errorf("Wait = %v", err)
		}

		ctx, cancel := context.WithTimeout(t.Context(), 2500*time.Millisecond)
		defer cancel()
		inactive, _ := script(func(time.Duration) systemd.UnitState {
			return systemd.UnitState{ID: "c.service", LoadState: "loaded", ActiveState: "inactive", SubState: "dead"}
		})
		err = Wait(ctx, SystemClock{}, inactive, nil, Policy{})
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrUnhealthy) ||
			!strings.Contains(err.Error(), "c.service: waiting for health") {
			t.Errorf("Wait after cancel = %v", err)
		}
	})
}

// TestWait_NotActive pins the message for a unit that never comes up.
func TestWait_NotActive(t *testing.T) {
	err, _ := gateRun(t, func(time.Duration) systemd.UnitState {
		return systemd.UnitState{ID: "d.service", LoadState: "loaded", ActiveState: "failed", SubState: "failed", Result: "exit-code", ExecMainStatus: 2}
	}, nil, Policy{Retries: 3})
	want := "d.service: not active after 2s (ActiveState=failed failed, Result=exit-code, ExecMainStatus=2, NRestarts=0): health gate failed"
	if err == nil || err.Error() != want {
		t.Errorf("Wait = %v\nwant %s", err, want)
	}
}

// TestWait_NeverSeenUp pins the message for a crash loop too fast for any
// poll to catch the unit active.
func TestWait_NeverSeenUp(t *testing.T) {
	err, _ := gateRun(t, func(el time.Duration) systemd.UnitState { return autoRestart(int(el / time.Second)) }, nil, Policy{Retries: 3})
	want := "openim-api@0.service: keeps restarting, never active at a poll (NRestarts 0 → 2, ActiveState=activating auto-restart): health gate failed"
	if err == nil || err.Error() != want {
		t.Errorf("Wait = %v\nwant %s", err, want)
	}
}

// TestWait_ShortWindowCostsItsLength: a stable window shorter than the
// interval is checked again when it ends, not a whole interval later; a
// failed poll still waits the full interval.
func TestWait_ShortWindowCostsItsLength(t *testing.T) {
	p := Policy{Stable: 100 * time.Millisecond, Interval: time.Second}
	err, el := gateRun(t, func(time.Duration) systemd.UnitState { return running(42, 0) }, nil, p)
	if err != nil || el != 100*time.Millisecond {
		t.Fatalf("Wait = %v after %s, want nil after 100ms", err, el)
	}
	err, el = gateRun(t, func(el time.Duration) systemd.UnitState {
		if el == 0 {
			return autoRestart(0)
		}
		return running(42, 1)
	}, nil, p)
	if err != nil || el != time.Second+100*time.Millisecond {
		t.Fatalf("Wait = %v after %s, want nil after 1.1s (one failed poll, then the window)", err, el)
	}
}
