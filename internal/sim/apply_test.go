package sim

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/openimsdk/openim-deploy/internal/cli"
	"github.com/openimsdk/openim-deploy/internal/clock"
	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/layout"
	"github.com/openimsdk/openim-deploy/internal/phase"
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
	want := converged(t, f, ReleaseID)
	sims := simsOf(f)
	coldApply(t, f, sims, ReleaseID)
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
