package sim

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/openimsdk/openim-deploy/internal/cli"
	"github.com/openimsdk/openim-deploy/internal/clock"
	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/health"
	"github.com/openimsdk/openim-deploy/internal/layout"
	"github.com/openimsdk/openim-deploy/internal/phase"
	"github.com/openimsdk/openim-deploy/internal/release"
	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/ui"
)

// wipe makes s a fresh host: nothing of the app on it, nothing running.
// The ports each unit listens on while it runs stay: they describe the
// binaries, not the host.
func (s *State) wipe() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Files, s.Links, s.Units, s.Procs = map[string][]byte{}, map[string]string{}, map[string]Unit{}, map[int]string{}
}

// simsOf gives every host of f its in-process write side.
func simsOf(f *Fleet) map[string]*hostSim {
	sims := map[string]*hostSim{}
	for _, h := range f.Hosts {
		sims[h.Name] = newHostSim(h)
	}
	return sims
}

// applyInProcess runs apply's phases, as the apply command orders them,
// against the simulated hosts' in-process targets: call it inside a
// synctest bubble, where the system clock the run uses is the bubble's
// fake time. Hosts with nothing placed (infra-1) are left out.
func applyInProcess(t *testing.T, f *Fleet, sims map[string]*hostSim, releaseID string, rollout phase.RolloutOverride) (*phase.Run, string, error) {
	t.Helper()
	var out bytes.Buffer
	r := &phase.Run{
		Config: f.Config,
		Out:    ui.New(&out, ui.Options{}),
		Opts: phase.Options{Parallel: 10, LockTTL: 30 * time.Second, ReleaseID: releaseID,
			Command: "apply", Action: "apply", Rollout: rollout},
		Clock: clock.System{},
		Dial: func(_ context.Context, h *config.Host, _ *config.Bastion) (target.Target, error) {
			if s, ok := sims[h.Name]; ok {
				return s, nil
			}
			return nil, fmt.Errorf("%s: %w", h.Name, target.ErrUnreachable)
		},
	}
	for _, hp := range f.Config.Placement() {
		if !hp.Empty() {
			r.Hosts = append(r.Hosts, &phase.Host{Config: hp.Host, Placement: hp})
		}
	}
	err := phase.Runner{Phases: phase.ApplyPhases()}.Execute(t.Context(), r)
	return r, out.String(), err
}

// hostView is what the next plan reads of a simulated host, in a form to
// compare: unit files and drop-ins, links (current, the target's wants),
// systemd's view of every unit, the release directory each main process
// runs in, the releases' manifests and the task records.
type hostView struct {
	UnitFiles map[string]string
	Links     map[string]string
	Units     map[string]string // ActiveState/SubState/UnitFileState
	Runs      map[string]string // unit -> working directory of its process
	Manifests map[string]string
	Ran       map[string]string
}

func viewOf(s *State, app string) hostView {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := hostView{UnitFiles: map[string]string{}, Links: maps.Clone(s.Links), Units: map[string]string{},
		Runs: map[string]string{}, Manifests: map[string]string{}, Ran: map[string]string{}}
	for p, b := range s.Files {
		switch {
		case strings.HasPrefix(p, layout.UnitDir+"/"):
			v.UnitFiles[p] = string(b)
		case strings.HasSuffix(p, "/.manifest"):
			v.Manifests[p] = string(b)
		case strings.HasPrefix(p, path.Join(layout.AppStateDir(app), "ran")+"/"):
			v.Ran[p] = string(b)
		}
	}
	for n, u := range s.Units {
		v.Units[n] = u.ActiveState + "/" + u.SubState + "/" + u.UnitFileState
		if u.MainPID != 0 {
			v.Runs[n] = s.Procs[u.MainPID]
		}
	}
	return v
}

// converged is what State.Converge says a successful cold apply leaves on
// each host of f, at release id.
func converged(t *testing.T, f *Fleet, id string) map[string]hostView {
	t.Helper()
	want := map[string]hostView{}
	local := phase.NewLocalFiles()
	for _, hp := range f.Config.Placement() {
		if hp.Empty() {
			continue
		}
		s := NewState("0")
		// The key of the credential hashes is random per host: the one
		// the fleet's host holds, when an apply made one.
		keyPath := path.Join(layout.AppStateDir(f.Config.Playbook.App.Name), release.CredKeyName)
		for _, h := range f.Hosts {
			if h.Name == hp.Host.Name {
				h.State.mu.Lock()
				if k, ok := h.State.Files[keyPath]; ok {
					s.Files[keyPath] = k
				}
				h.State.mu.Unlock()
			}
		}
		if err := s.Converge(f.Config, hp, local, id, 1); err != nil {
			t.Fatal(err)
		}
		want[hp.Host.Name] = viewOf(s, f.Config.Playbook.App.Name)
	}
	return want
}

// checkConverges runs the real apply and plan commands, over SSH, against
// the fleet: apply must find nothing to do anywhere, and plan agree.
func checkConverges(t *testing.T, f *Fleet) {
	t.Helper()
	code, out := run(t.Context(), f, f.Args("apply", "--no-fold")...)
	if code != cli.ExitOK {
		t.Fatalf("second apply: exit %d:\n%s", code, out)
	}
	if err := CheckNoop(f, out); err != nil {
		t.Fatalf("second apply is not a no-op: %v\n%s", err, out)
	}
	if code, out := run(t.Context(), f, f.Args("plan", "--detailed-exitcode", "--no-fold")...); code != cli.ExitOK {
		t.Fatalf("plan after apply: exit %d, want 0 (no changes):\n%s", code, out)
	}
}

// coldApply wipes every host of f and applies release id to them in a
// bubble; every host must come out changed.
func coldApply(t *testing.T, f *Fleet, sims map[string]*hostSim, id string) {
	t.Helper()
	for _, h := range f.Hosts {
		h.State.wipe()
	}
	synctest.Test(t, func(t *testing.T) {
		r, out, err := applyInProcess(t, f, sims, id, nil)
		if err != nil {
			t.Fatalf("cold apply: %v\n%s", err, out)
		}
		for _, h := range r.Hosts {
			if o, err, n := h.Result(); o != phase.OutcomeChanged || n == 0 {
				t.Errorf("%s: %s changed=%d (%v), want changed", h, o, n, err)
			}
		}
	})
}

// TestColdApplyOnSimulatedFleet: apply against three fresh simulated
// hosts (f.Unknown() empty: every command it sends is simulated) builds
// the release, installs and enables the units, runs the
// gate tasks and starts every instance wave by wave behind its health
// gate, starts the target and points current at the release: the hosts
// end exactly as State.Converge says a cold apply leaves them (unit
// files, drop-ins, links, systemd's view, the release every process runs,
// manifest, task records), and the real apply command, run next over
// SSH, finds nothing to do.
func TestColdApplyOnSimulatedFleet(t *testing.T) {
	f := NewOpenIMFleet(t, 3)
	sims := simsOf(f)
	coldApply(t, f, sims, ReleaseID)
	want := converged(t, f, ReleaseID)
	if u := f.Unknown(); len(u) > 0 {
		t.Fatalf("commands the simulation does not answer: %v", u)
	}
	for _, h := range f.Hosts {
		got := viewOf(h.State, f.Config.Playbook.App.Name)
		w := want[h.Name]
		for _, c := range []struct {
			what      string
			got, want map[string]string
		}{
			{"unit files", got.UnitFiles, w.UnitFiles}, {"links", got.Links, w.Links}, {"units", got.Units, w.Units},
			{"processes", got.Runs, w.Runs}, {"manifests", got.Manifests, w.Manifests}, {"task records", got.Ran, w.Ran},
		} {
			if !maps.Equal(c.got, c.want) {
				t.Errorf("%s: %s differ from a converged host:\n%s", h.Name, c.what, mapDiff(c.got, c.want))
			}
		}
		events := sims[h.Name].restartLog()
		if len(events) == 0 {
			t.Errorf("%s: nothing was started", h.Name)
		}
		for _, e := range events {
			if e.Via != "" {
				t.Errorf("%s: starting %s started %v: they were not up, and no gate saw them", h.Name, e.Via, e.Units)
			}
		}
		if _, held := h.State.Files["/var/lib/openim-deploy/openim.lock/id"]; held {
			t.Errorf("%s: the lock is still held after apply", h.Name)
		}
	}
	checkConverges(t, f)
}

// mapDiff lists the keys whose values differ between got and want.
func mapDiff(got, want map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if w, ok := want[k]; !ok {
			fmt.Fprintf(&b, "  + %s\n", k)
		} else if w != got[k] {
			fmt.Fprintf(&b, "  ~ %s: %q, want %q\n", k, got[k], w)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if _, ok := got[k]; !ok {
			fmt.Fprintf(&b, "  - %s\n", k)
		}
	}
	return b.String()
}

// TestRollingUpgradeOnSimulatedFleet: after a cold apply, one binary
// changes (openim-push, 8 instances on each of 3 hosts) and apply runs
// with batches of 4: only that binary crosses the network, only its 24
// instances restart, each once, in batches of at most 4 taken across the
// hosts, each batch only after the previous one passed its health gate
// (a stable window later); they end on the new release, every other
// instance keeps running the old one, re-pinned to the new one without a
// restart, current names the new release, and the old one is kept
// (with keep_releases = 1: only as the protected previous release that
// instances still run). The real apply
// command then finds nothing to do.
func TestRollingUpgradeOnSimulatedFleet(t *testing.T) {
	const r2 = "20261202T000000.000Z-0002"
	f := NewOpenIMFleet(t, 3)
	sims := simsOf(f)
	coldApply(t, f, sims, ReleaseID)
	before := map[string]int{}
	for name, s := range sims {
		before[name] = len(s.restartLog())
	}
	uploadsBefore := map[string]int{}
	for name, s := range sims {
		uploadsBefore[name] = len(s.uploaded())
	}
	bin := filepath.Join(f.Dir, "_output", "bin", "openim-push")
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, append(b, " v2"...), 0o755); err != nil {
		t.Fatal(err)
	}

	// One release kept: the old one survives the prune only as protected
	// (the previous current, which instances still run).
	f.Config.Playbook.App.KeepReleases = 1

	var events []restartEvent
	synctest.Test(t, func(t *testing.T) {
		batch4 := func(p config.Rollout) config.Rollout { p.Batch = 4; return p }
		_, out, err := applyInProcess(t, f, sims, r2, batch4)
		if err != nil {
			t.Fatalf("upgrade: %v\n%s", err, out)
		}
	})
	for _, h := range f.Hosts {
		events = append(events, sims[h.Name].restartLog()[before[h.Name]:]...)
	}
	if u := f.Unknown(); len(u) > 0 {
		t.Fatalf("commands the simulation does not answer: %v", u)
	}

	// Restarts: exactly the push instances, once each, in batches.
	slices.SortStableFunc(events, func(a, b restartEvent) int { return a.At.Compare(b.At) })
	seen := map[string]int{}
	var batches [][]string
	var starts []time.Time
	for _, e := range events {
		if len(starts) == 0 || !e.At.Equal(starts[len(starts)-1]) {
			batches, starts = append(batches, nil), append(starts, e.At)
		}
		for _, u := range e.Units {
			if !strings.HasPrefix(u, "openim-push@") {
				t.Errorf("%s: %s restarted; only openim-push changed", e.Host, u)
			}
			seen[e.Host+"/"+u]++
			batches[len(batches)-1] = append(batches[len(batches)-1], e.Host+"/"+u)
		}
	}
	if len(seen) != 24 {
		t.Errorf("%d push instances restarted, want 24: %v", len(seen), seen)
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s restarted %d times", k, n)
		}
	}
	if len(batches) != 6 {
		t.Errorf("%d batches, want 6 of 4: %v", len(batches), batches)
	}
	for i, bt := range batches {
		hosts := map[string]bool{}
		for _, it := range bt {
			hosts[strings.Split(it, "/")[0]] = true
		}
		if len(bt) > 4 || len(hosts) < min(len(bt), 3) {
			t.Errorf("batch %d: %v: want at most 4, spread over the hosts", i+1, bt)
		}
		if i > 0 && starts[i].Sub(starts[i-1]) < health.DefaultStable {
			t.Errorf("batch %d began %s after batch %d: before its gate's stable window (%s) passed",
				i+1, starts[i].Sub(starts[i-1]), i, health.DefaultStable)
		}
	}

	root := f.Config.Playbook.App.Root
	for _, h := range f.Hosts {
		// Only the changed binary is sent; the others are linked from the
		// release on the host.
		for _, p := range sims[h.Name].uploaded()[uploadsBefore[h.Name]:] {
			if strings.Contains(p, "/bin/") && !strings.HasSuffix(p, "/bin/openim-push") {
				t.Errorf("%s: %s sent again; it did not change", h.Name, p)
			}
		}
		v := viewOf(h.State, f.Config.Playbook.App.Name)
		if got := v.Links[path.Join(root, "current")]; got != "releases/"+r2 {
			t.Errorf("%s: current -> %s, want releases/%s", h.Name, got, r2)
		}
		if _, ok := v.Manifests[path.Join(root, "releases", ReleaseID, ".manifest")]; !ok {
			t.Errorf("%s: release %s was pruned, but instances still run it", h.Name, ReleaseID)
		}
		for u, cwd := range v.Runs {
			want := path.Join(root, "releases", ReleaseID)
			if strings.HasPrefix(u, "openim-push@") {
				want = path.Join(root, "releases", r2)
			}
			if cwd != want {
				t.Errorf("%s: %s runs in %s, want %s", h.Name, u, cwd, want)
			}
		}
		for p, text := range v.UnitFiles {
			if strings.HasSuffix(p, ".d/release.conf") && directive([]byte(text), "WorkingDirectory") != path.Join(root, "releases", r2) {
				t.Errorf("%s: %s does not pin %s", h.Name, p, r2)
			}
		}
	}
	checkConverges(t, f)
}
