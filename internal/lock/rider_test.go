package lock

import (
	"errors"
	"strings"
	"testing"
)

// TestAcquireWith_RiderRunsInTheSameSession pins the folded round trip: one
// command takes the lock and runs the rider with its own arguments (after
// the lock's three), and the acquire's output is parsed as before.
func TestAcquireWith_RiderRunsInTheSameSession(t *testing.T) {
	p := lockPath(t)
	sh := &shTarget{}
	r := &Rider{Script: `printf 'args=%s\n' "$*"; cat; echo done`, Args: []string{"a b", "c"}}
	l, err := AcquireWith(t.Context(), sh, p, ops, Options{}, r)
	if err != nil {
		t.Fatal(err)
	}
	if r.Err != nil {
		t.Fatalf("rider: %v", r.Err)
	}
	if got, want := string(r.Stdout), "args=a b c\ndone\n"; got != want {
		t.Errorf("rider stdout = %q, want %q (stdin must not reach the rider)", got, want)
	}
	if len(sh.runs) != 1 {
		t.Errorf("%d commands, want 1", len(sh.runs))
	}
	if l.Info.Expires.IsZero() || l.Info.Remaining <= 0 {
		t.Errorf("lease info not parsed: %+v", l.Info)
	}
	if err := l.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestAcquireWith_HeldSkipsRider: a held lock is reported as by Acquire,
// and the rider never runs.
func TestAcquireWith_HeldSkipsRider(t *testing.T) {
	p := lockPath(t)
	first, err := Acquire(t.Context(), &shTarget{}, p, ops, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Release(t.Context())
	r := &Rider{Script: `echo ran`}
	_, err = AcquireWith(t.Context(), &shTarget{}, p, Holder{User: "ci"}, Options{}, r)
	var held *HeldError
	if !errors.As(err, &held) || held.Holder.User != ops.User {
		t.Fatalf("err = %v, want HeldError naming %q", err, ops.User)
	}
	if r.Stdout != nil || strings.Contains(string(r.Stdout), "ran") {
		t.Errorf("rider ran: %q", r.Stdout)
	}
}

// TestAcquireWith_FailedRiderKeepsTheLease: the lock is taken even when the
// rider fails; the caller gets the lease to release and the rider's status.
func TestAcquireWith_FailedRiderKeepsTheLease(t *testing.T) {
	p := lockPath(t)
	r := &Rider{Script: `echo partial; exit 7`}
	l, err := AcquireWith(t.Context(), &shTarget{}, p, ops, Options{}, r)
	if err != nil {
		t.Fatal(err)
	}
	var re *RiderError
	if !errors.As(r.Err, &re) || re.Code != 7 || string(r.Stdout) != "partial\n" {
		t.Errorf("rider = %q, %v; want \"partial\\n\", exit status 7", r.Stdout, r.Err)
	}
	if err := l.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestReleaseWith_RiderRunsBeforeTheUnlock: the rider runs under the lease
// (the lock directory still exists when it runs) and the release happens
// in the same command.
func TestReleaseWith_RiderRunsBeforeTheUnlock(t *testing.T) {
	p := lockPath(t)
	sh := &shTarget{}
	l, err := Acquire(t.Context(), sh, p, ops, Options{})
	if err != nil {
		t.Fatal(err)
	}
	before := len(sh.runs)
	r := &Rider{Script: `[ -d "$1" ] && echo held; exit 2`, Args: []string{p}}
	if err := l.ReleaseWith(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	if got := string(r.Stdout); got != "held\n" {
		t.Errorf("rider stdout = %q, want it to run while the lock is held", got)
	}
	var re *RiderError
	if !errors.As(r.Err, &re) || re.Code != 2 {
		t.Errorf("rider err = %v, want exit status 2", r.Err)
	}
	if n := len(sh.runs) - before; n != 1 {
		t.Errorf("%d commands to release, want 1", n)
	}
	if info, err := Read(t.Context(), sh, p, false); err != nil || info != nil {
		t.Errorf("after ReleaseWith the lock reads %+v, %v; want none", info, err)
	}
}

// TestReleaseWith_LostLease: a lease someone broke is reported lost, as by
// Release, and the rider still ran.
func TestReleaseWith_LostLease(t *testing.T) {
	p := lockPath(t)
	sh := &shTarget{}
	l, err := Acquire(t.Context(), sh, p, ops, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Break(t.Context(), sh, p, false); err != nil {
		t.Fatal(err)
	}
	r := &Rider{Script: `echo ran`}
	if err := l.ReleaseWith(t.Context(), r); !errors.Is(err, ErrLost) {
		t.Fatalf("ReleaseWith = %v, want ErrLost", err)
	}
	if string(r.Stdout) != "ran\n" || r.Err != nil {
		t.Errorf("rider = %q, %v", r.Stdout, r.Err)
	}
}
