package lock

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/openimsdk/openim-deploy/internal/target/targettest"
)

// TestAcquire_Wait pins --lock-wait: the waiter polls every second and
// gets the lock on the first poll after the holder released it, on fake
// time (the scripts still run in a real sh).
func TestAcquire_Wait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := lockPath(t)
		holder, err := Acquire(t.Context(), &shTarget{}, p, ops, Options{})
		if err != nil {
			t.Fatal(err)
		}
		attempts := 0
		waiter := &shTarget{hook: func(string) {
			if attempts++; attempts == 3 {
				if err := holder.Release(context.Background()); err != nil {
					t.Error(err)
				}
			}
		}}
		start := time.Now()
		l, err := Acquire(t.Context(), waiter, p, Holder{User: "ci"}, Options{Wait: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el != 2*time.Second || attempts != 3 {
			t.Errorf("got the lock after %s and %d attempts, want 2s and 3", el, attempts)
		}
		if got := readFile(t, filepath.Join(p, "id")); got != l.Info.ID {
			t.Errorf("id = %q, want the waiter's", got)
		}
	})
}

// TestAcquire_WaitTimesOut pins that waiting ends after Wait with the
// holder named, and that the caller's cancellation ends it sooner.
func TestAcquire_WaitTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := lockPath(t)
		if _, err := Acquire(t.Context(), &shTarget{}, p, ops, Options{}); err != nil {
			t.Fatal(err)
		}
		sh := &shTarget{}
		start := time.Now()
		_, err := Acquire(t.Context(), sh, p, Holder{}, Options{Wait: 2500 * time.Millisecond})
		if !errors.Is(err, ErrHeld) || !strings.HasPrefix(err.Error(), "waited 2.5s: locked by ops@laptop") {
			t.Errorf("Acquire = %v", err)
		}
		if el := time.Since(start); el != 2500*time.Millisecond || len(sh.cmds()) != 4 {
			t.Errorf("gave up after %s and %d attempts, want 2.5s and 4", el, len(sh.cmds()))
		}

		ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
		defer cancel()
		_, err = Acquire(ctx, &shTarget{}, p, Holder{}, Options{Wait: time.Hour})
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrHeld) {
			t.Errorf("cancelled Acquire = %v", err)
		}
	})
}

// TestKeep_Refreshes pins that Keep moves the host-side expiry forward
// every TTL/3 and stops at Release, which then removes the lease.
func TestKeep_Refreshes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := lockPath(t)
		refreshed := make(chan struct{}, 10)
		sh := &shTarget{hook: func(s string) {
			if s == refreshScript {
				refreshed <- struct{}{}
			}
		}}
		l, err := Acquire(t.Context(), sh, p, ops, Options{TTL: 30 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		// Pretend the lease is about to lapse; a refresh must push it out.
		if err := os.WriteFile(filepath.Join(p, "expires"), []byte("5\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		l.Keep(t.Context())
		<-refreshed
		if el := time.Since(start); el != 10*time.Second {
			t.Errorf("first refresh after %s, want TTL/3 = 10s", el)
		}
		synctest.Wait() // let the refresh command finish
		exp, _ := strconv.ParseInt(readFile(t, filepath.Join(p, "expires")), 10, 64)
		if exp < 1e9 {
			t.Errorf("expires = %d after refresh, want host clock + 30", exp)
		}
		if err := l.Release(t.Context()); err != nil {
			t.Fatal(err)
		}
		if l.Err() != nil {
			t.Errorf("Err() = %v after a clean run", l.Err())
		}
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("lease still there after Release")
		}
		l.Keep(t.Context()) // after Release: a no-op, no goroutine left behind
	})
}

// TestKeep_Lost pins that Keep notices a broken or taken-over lease, and
// gives up after a whole TTL of failed refreshes.
func TestKeep_Lost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := lockPath(t)
		sh := &shTarget{}
		l, err := Acquire(t.Context(), sh, p, ops, Options{TTL: 3 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		l.Keep(t.Context())
		if _, err := Break(t.Context(), sh, p, false); err != nil {
			t.Fatal(err)
		}
		<-l.Lost()
		if err := l.Err(); !errors.Is(err, ErrLost) || !strings.Contains(err.Error(), "broken or taken over") {
			t.Errorf("Err() = %v", err)
		}
		if err := l.Release(t.Context()); !errors.Is(err, ErrLost) {
			t.Errorf("Release = %v, want ErrLost", err)
		}

		down := &shTarget{}
		l, err = Acquire(t.Context(), down, p, ops, Options{TTL: 3 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		down.mu.Lock()
		down.fail = func(string) error { return errors.New("ssh: connection lost") }
		down.mu.Unlock()
		start := time.Now()
		l.Keep(t.Context())
		<-l.Lost()
		if el := time.Since(start); el != 3*time.Second || !strings.Contains(l.Err().Error(), "no successful refresh for 3s: ssh: connection lost") {
			t.Errorf("lost after %s: %v", el, l.Err())
		}
	})
}

// TestHeldMessage pins the holder message against canned output, through
// the command fake: exact times, and the command the fake received.
func TestHeldMessage(t *testing.T) {
	f := targettest.NewFake("im-1")
	info := `{"id":"abc","user":"ops","host":"laptop","pid":4242,"command":"openim-deploy apply","acquired":1700000000,"expires":1700000030}`
	f.On(targettest.HasPrefix("sh -c "), targettest.Reply{Stdout: "1700000005\n1700000030\n" + info + "\n", Code: exitHeld})
	_, err := Acquire(t.Context(), f, "/var/lib/openim-deploy/openim.lock", ops, Options{Sudo: true})
	want := "locked by ops@laptop pid 4242 since " + time.Unix(1700000000, 0).Format("15:04:05") +
		" running `openim-deploy apply`, expires in 25s"
	if err == nil || err.Error() != want {
		t.Errorf("Acquire = %v\nwant %s", err, want)
	}
	calls := f.Calls()
	if len(calls) != 1 || !calls[0].Sudo || !strings.HasSuffix(calls[0].Line, " sh /var/lib/openim-deploy/openim.lock 30 "+calls[0].Cmd.Args[6]) {
		t.Fatalf("calls = %+v", calls)
	}
	if stdin := string(calls[0].Stdin); !strings.HasPrefix(stdin, `{"id":"`) || !strings.HasSuffix(stdin, `"command":"openim-deploy apply",`) {
		t.Errorf("stdin = %q, want the info JSON without its closing brace", stdin)
	}
	targettest.NotReceivedContains(t, f, "ops@laptop") // holder data goes on stdin, never in argv
}
