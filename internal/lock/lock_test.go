package lock

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var ops = Holder{User: "ops", Host: "laptop", PID: 4242, Command: "openim-deploy apply"}

// lockPath returns a lock path whose parent does not exist yet, as on a
// fresh host.
func lockPath(t *testing.T) string {
	return filepath.Join(t.TempDir(), "var", "lib", "openim-deploy", "openim.lock")
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestAcquire_Fresh pins the lease layout: a directory with id, expires
// (host clock + TTL) and an info JSON that names the holder.
func TestAcquire_Fresh(t *testing.T) {
	p := lockPath(t)
	before := time.Now().Unix()
	l, err := Acquire(t.Context(), &shTarget{}, p, ops, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(p, "id")); got != l.Info.ID || len(got) != 24 {
		t.Errorf("id file = %q, lease id %q", got, l.Info.ID)
	}
	exp, _ := strconv.ParseInt(readFile(t, filepath.Join(p, "expires")), 10, 64)
	if exp < before+30 || exp > time.Now().Unix()+30 {
		t.Errorf("expires = %d, want now+30", exp)
	}
	var w wire
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(p, "info"))), &w); err != nil {
		t.Fatal(err)
	}
	if w.User != "ops" || w.Host != "laptop" || w.PID != 4242 || w.Command != "openim-deploy apply" ||
		w.Expires != exp || w.Acquired != exp-30 || w.ID != l.Info.ID {
		t.Errorf("info = %+v", w)
	}
	if l.Previous != nil || l.Info.Remaining != 30*time.Second || l.Info.Expires.Unix() != exp {
		t.Errorf("lease = %+v", l)
	}
}

// TestAcquire_Held pins that a second run fails at once, with an error
// wrapping ErrHeld that names the holder, and leaves the lease alone.
func TestAcquire_Held(t *testing.T) {
	p := lockPath(t)
	first, err := Acquire(t.Context(), &shTarget{}, p, ops, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(t.Context(), &shTarget{}, p, Holder{User: "ci"}, Options{})
	var held *HeldError
	if !errors.Is(err, ErrHeld) || !errors.As(err, &held) {
		t.Fatalf("second Acquire = %v, want ErrHeld", err)
	}
	re := regexp.MustCompile("^locked by ops@laptop pid 4242 since [0-9:]{8} running `openim-deploy apply`, expires in (29|30)s$")
	if !re.MatchString(err.Error()) {
		t.Errorf("error = %q", err)
	}
	if held.Holder.ID != first.Info.ID || held.Path != p {
		t.Errorf("HeldError = %+v", held)
	}
	if got := readFile(t, filepath.Join(p, "id")); got != first.Info.ID {
		t.Errorf("lease was replaced: id %q", got)
	}
}

// TestAcquire_StaleTakeover pins that an expired lease (a killed run) is
// taken over, that the old holder is reported, and that no tombstone is
// left behind.
func TestAcquire_StaleTakeover(t *testing.T) {
	p := lockPath(t)
	old, err := Acquire(t.Context(), &shTarget{}, p, Holder{User: "gone", Host: "box", PID: 1}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	past := strconv.FormatInt(time.Now().Unix()-90, 10)
	if err := os.WriteFile(filepath.Join(p, "expires"), []byte(past+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := Acquire(t.Context(), &shTarget{}, p, ops, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if l.Previous == nil || l.Previous.ID != old.Info.ID || l.Previous.User != "gone" || l.Previous.Remaining > -89*time.Second {
		t.Fatalf("Previous = %+v", l.Previous)
	}
	if !strings.HasPrefix(l.Previous.String(), "gone@box pid 1 since ") || !strings.Contains(l.Previous.String(), "expired 1m") {
		t.Errorf("Previous.String() = %q", l.Previous)
	}
	if got := readFile(t, filepath.Join(p, "id")); got != l.Info.ID {
		t.Errorf("id = %q, want the new lease", got)
	}
	entries, _ := os.ReadDir(filepath.Dir(p))
	if len(entries) != 1 {
		t.Errorf("lock dir parent holds %d entries, want only the lease", len(entries))
	}
	// The old holder must not be able to release the new lease.
	if err := old.Release(t.Context()); !errors.Is(err, ErrLost) {
		t.Errorf("old Release = %v, want ErrLost", err)
	}
	if got := readFile(t, filepath.Join(p, "id")); got != l.Info.ID {
		t.Errorf("old holder's Release removed the new lease")
	}
}

// TestAcquire_Incomplete pins that a lease directory without files (a run
// between mkdir and its writes) counts as held, not stale.
func TestAcquire_Incomplete(t *testing.T) {
	p := lockPath(t)
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Acquire(t.Context(), &shTarget{}, p, ops, Options{})
	var held *HeldError
	if !errors.As(err, &held) || !held.Holder.Incomplete || !strings.Contains(err.Error(), "openim-deploy unlock") {
		t.Fatalf("Acquire = %v, want held by an unfinished lease", err)
	}
}

// TestRelease pins that Release removes our lease, is idempotent, and that
// the lock can then be taken again.
func TestRelease(t *testing.T) {
	p := lockPath(t)
	sh := &shTarget{}
	l, err := Acquire(t.Context(), sh, p, ops, Options{Sudo: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(t.Context()); err != nil {
		t.Errorf("second Release = %v", err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("lease still there after Release: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(p))
	if len(entries) != 0 {
		t.Errorf("Release left %d entries behind", len(entries))
	}
	for _, c := range sh.cmds() {
		if !c.Sudo || c.ReadOnly || c.Args[0] != "sh" || c.Args[1] != "-c" || c.Args[3] != "sh" || c.Args[4] != p {
			t.Errorf("command %q sudo=%v readonly=%v", c.Args[4:], c.Sudo, c.ReadOnly)
		}
	}
	if _, err := Acquire(t.Context(), sh, p, ops, Options{}); err != nil {
		t.Errorf("Acquire after Release = %v", err)
	}
}

// TestReadAndBreak pins `openim-deploy unlock`: Read shows the holder
// read-only, Break removes the lease whoever holds it, and both report
// nothing (nil, no error) afterwards. The broken holder's Release is refused.
func TestReadAndBreak(t *testing.T) {
	p := lockPath(t)
	sh := &shTarget{}
	l, err := Acquire(t.Context(), sh, p, ops, Options{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := Read(t.Context(), sh, p, false)
	if err != nil || info.ID != l.Info.ID || info.Holder != ops || info.Remaining < 29*time.Second {
		t.Fatalf("Read = %+v, %v", info, err)
	}
	if c := sh.cmds(); !c[len(c)-1].ReadOnly {
		t.Error("Read's command is not marked ReadOnly")
	}
	info, err = Break(t.Context(), sh, p, false)
	if err != nil || info.ID != l.Info.ID {
		t.Fatalf("Break = %+v, %v", info, err)
	}
	if info, err := Break(t.Context(), sh, p, false); info != nil || err != nil {
		t.Errorf("Break again = %v, %v, want nil, nil", info, err)
	}
	if info, err := Read(t.Context(), sh, p, false); info != nil || err != nil {
		t.Errorf("Read after Break = %v, %v, want nil, nil", info, err)
	}
	if err := l.Release(t.Context()); !errors.Is(err, ErrLost) {
		t.Errorf("Release after Break = %v, want ErrLost", err)
	}
}

// TestPaths pins that relative and unclean paths are refused before any
// command runs: the scripts put tombstones next to the lease.
func TestPaths(t *testing.T) {
	sh := &shTarget{}
	for _, p := range []string{"openim.lock", "/", "/var/lib/x/../y.lock", "/var/lib/y.lock/"} {
		if _, err := Acquire(t.Context(), sh, p, ops, Options{}); err == nil {
			t.Errorf("Acquire(%q) succeeded", p)
		}
	}
	if n := len(sh.cmds()); n != 0 {
		t.Errorf("%d commands ran", n)
	}
}

// TestAcquire_Race pins mutual exclusion: of several runs racing for a
// free lock, and again for a stale one, exactly one wins and the rest
// are told it is held.
func TestAcquire_Race(t *testing.T) {
	p := lockPath(t)
	race := func() (won int) {
		const n = 8
		errs := make(chan error, n)
		for range n {
			go func() {
				_, err := Acquire(t.Context(), &shTarget{}, p, ops, Options{})
				errs <- err
			}()
		}
		for range n {
			switch err := <-errs; {
			case err == nil:
				won++
			case !errors.Is(err, ErrHeld):
				t.Errorf("loser got %v, want ErrHeld", err)
			}
		}
		return won
	}
	if won := race(); won != 1 {
		t.Errorf("free lock: %d winners", won)
	}
	past := strconv.FormatInt(time.Now().Unix()-90, 10)
	if err := os.WriteFile(filepath.Join(p, "expires"), []byte(past+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if won := race(); won != 1 {
		t.Errorf("stale lock: %d winners", won)
	}
	if entries, _ := os.ReadDir(filepath.Dir(p)); len(entries) != 1 {
		t.Errorf("%d entries left next to the lease, want 1", len(entries))
	}
}
