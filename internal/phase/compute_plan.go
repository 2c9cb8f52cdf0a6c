package phase

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/layout"
	"github.com/openimsdk/openim-deploy/internal/plan"
	"github.com/openimsdk/openim-deploy/internal/preflight"
	"github.com/openimsdk/openim-deploy/internal/release"
	"github.com/openimsdk/openim-deploy/internal/unit"
)

// ComputePlan asks package plan what the command wants of every host
// (its Intent: apply the playbook, restart, start, roll back), from the
// desired state Render built and the state ReadHosts read. Pure: it reads
// nothing from the hosts.
//
// A host where a path apply would write holds a file the tool did not
// write for this app is refused here, and only that host: its plan would
// overwrite the file (a unit of the system, of another app, or the
// operator's own), and the tool never writes over what it did not create.
// Nothing has changed on it yet; the other hosts go on.
type ComputePlan struct {
	Intent Intent // the zero Intent applies the playbook
}

// Title implements Phase.
func (c ComputePlan) Title() string { return c.intent().title }

func (c ComputePlan) intent() Intent {
	if c.Intent.plan == nil {
		return ApplyPlaybook()
	}
	return c.Intent
}

// Run implements Phase. A host plan cannot make (a rollback with nowhere
// to go) fails, and the run stops before any host is locked.
func (c ComputePlan) Run(ctx context.Context, r *Run) error {
	r.intent = c.intent()
	r.Plan = &plan.Plan{}
	var hosts []*Host
	for _, h := range r.Usable() {
		if !r.refusedForeign(h) {
			hosts = append(hosts, h)
		}
	}
	// Each host's plan is its own (pure, reading only that host's state
	// and the run's shared memos), so they are made side by side; they are
	// reported and kept in inventory order.
	plans := make([]*plan.HostPlan, len(hosts))
	failures := make([]error, len(hosts))
	local := r.localFiles()
	// Not cancelled midway: a plan is quick, and a run stopped now stops
	// before the next phase.
	_ = eachHostAt(context.WithoutCancel(ctx), hosts, r.Opts.Parallel, func(_ context.Context, i int, h *Host) error {
		err := h.chooseDelivery(r.Config, local)
		if err == nil {
			plans[i], err = r.intent.plan(r, h)
		}
		failures[i] = err
		return nil
	})
	var errs []error
	for i, h := range hosts {
		hp, err := plans[i], failures[i]
		if err != nil {
			h.Fail(OutcomeFailed, err)
			r.Out.HostError(h.Config.Name, "%v", err)
			errs = append(errs, fmt.Errorf("%s: %w", h, err))
			continue
		}
		h.Plan = hp
		r.Plan.Hosts = append(r.Plan.Hosts, hp)
	}
	WritePlan(r.Out, r.Plan)
	r.writeHookPlan()
	return errors.Join(errs...)
}

// chooseDelivery decides, once per run, how h's secrets reach it. Render
// built them as systemd credentials where the playbook allows them
// (plan.Desired.DeliversCredentials); a host whose systemd has none gets
// the 0600 files of BuildDesiredFiles instead (pre-flight has warned
// about, or refused, it). The credentials' hashes are keyed with the
// host's key, or a new random one the push stores (credKeyNew).
func (h *Host) chooseDelivery(cfg *config.Config, local *LocalFiles) error {
	if h.deliveryChosen {
		return nil
	}
	h.deliveryChosen = true
	if !h.Desired.DeliversCredentials() {
		return nil
	}
	if !preflight.SupportsCredentials(h.Facts) {
		d, err := BuildDesiredFiles(cfg, h.Placement, local)
		if err != nil {
			return err
		}
		h.Desired = d
		return nil
	}
	key := h.Actual.CredKey
	if key == nil {
		key = make([]byte, release.CredKeySize)
		_, _ = rand.Read(key) // crypto/rand.Read never fails
		h.credKeyNew = key
	}
	h.Desired = plan.KeyCredentials(h.Desired, key)
	return nil
}

// localFiles is Render's memo, or a new one for a run that did not render.
func (r *Run) localFiles() *LocalFiles {
	if r.local == nil {
		r.local = NewLocalFiles()
	}
	return r.local
}

// newCredKey is the key to store on the host with its first credentials,
// nil when it has one.
func (h *Host) newCredKey() []byte { return h.credKeyNew }

// Intent is what a command wants of each host, as a plan: every decision
// is package plan's; an Intent only hands it the host's desired and actual
// state.
type Intent struct {
	title string
	plan  func(r *Run, h *Host) (*plan.HostPlan, error)
}

// ApplyPlaybook plans what the playbook says (apply, plan).
func ApplyPlaybook() Intent {
	return Intent{"Plan", func(r *Run, h *Host) (*plan.HostPlan, error) {
		return plan.Build(h.Desired, h.Actual, r.graph().WaveOf, r.Opts.ReleaseID), nil
	}}
}

// RestartUnits plans the restart of the units f picks (every service when
// it picks all: tasks run only when named), each on the release it runs.
func RestartUnits(f UnitFilter) Intent {
	return Intent{"Plan restart", func(r *Run, h *Host) (*plan.HostPlan, error) {
		return plan.Restart(h.Desired, h.Actual, func(u plan.UnitRef, name string) bool {
			if f.All() {
				return !u.Task
			}
			return f.picks(u.Unit, name)
		}, r.graph().WaveOf), nil
	}}
}

// StartUnitsOf plans the start of the units f picks that are not running,
// on the release each is pinned to.
func StartUnitsOf(f UnitFilter) Intent {
	return Intent{"Plan start", func(r *Run, h *Host) (*plan.HostPlan, error) {
		return plan.StartStopped(h.Desired, h.Actual, func(u plan.UnitRef, name string) bool {
			return f.picks(u.Unit, name)
		}, f.All(), r.graph().WaveOf), nil
	}}
}

// RollbackTo plans the move of every instance back to release to, or,
// when to is "", to the release current before current by the host's
// ledger (plan.RollbackTarget). The release keeps the unit text it ran
// with, read with the history (Options.ReadLedger): its units are
// restored and each instance pinned to it; what it does not have is
// removed. force allows a release that never became current.
func RollbackTo(to string, force bool) Intent {
	return Intent{"Plan rollback", func(r *Run, h *Host) (*plan.HostPlan, error) {
		a := h.Actual
		id, err := plan.RollbackTarget(a, to, force)
		if err != nil {
			return nil, err
		}
		units := a.ReleaseUnits[id]
		if len(units) == 0 {
			return nil, fmt.Errorf("release %s has no units/ (made by an older version): it cannot be restored", id)
		}
		uses := map[string][]string{}
		for _, u := range h.Desired.Units {
			uses[u.Unit] = u.Uses
		}
		app := r.Config.Playbook.App
		return plan.Rollback(plan.RollbackInput{
			Host: h.Config.Name, To: id, Target: h.Desired.Target, Units: units, Uses: uses, WaveOf: r.graph().WaveOf,
			DropIn: func(_ string, text []byte) ([]byte, error) { return unit.DropInFromTemplate(app, text, id) },
		}, a)
	}}
}

// ForeignFilesError refuses a host where files the app did not write are
// in the way of files apply would write. It wraps release.ErrForeignFile.
type ForeignFilesError struct {
	// Files says, per file, what is there and whose it is not.
	Files []string
}

func (e *ForeignFilesError) Error() string { return strings.Join(e.Files, "; ") }

// Unwrap makes the refusal errors.Is release.ErrForeignFile.
func (e *ForeignFilesError) Unwrap() error { return release.ErrForeignFile }

// refusedForeign takes h out of the run, and says so, when files the app
// did not write are in the way of its unit files or drop-ins.
func (r *Run) refusedForeign(h *Host) bool {
	err := refuseForeign(h.Actual.Foreign, r.Config.Playbook.App.Name)
	if err == nil {
		return false
	}
	h.Fail(OutcomeFailed, err)
	r.Out.HostError(h.Config.Name, "refused: %v", err)
	return true
}

// refuseForeign returns the refusal of a host whose gathered state lists
// foreign files, or nil.
func refuseForeign(foreign []plan.Foreign, app string) error {
	if len(foreign) == 0 {
		return nil
	}
	e := &ForeignFilesError{}
	for _, f := range foreign {
		if f.Kind == "shadows" {
			e.Files = append(e.Files, fmt.Sprintf("%s would shadow %s, a unit openim-deploy did not write for app %s",
				layout.UnitPath(f.Name), f.What, app))
			continue
		}
		e.Files = append(e.Files, fmt.Sprintf("%s exists and was not written by openim-deploy for app %s (%s)",
			layout.UnitPath(f.Name), app, describeForeign(f)))
	}
	return e
}

// describeForeign says what is at a foreign path: its first line (and the
// app it belongs to, when the tool wrote it for another), or what it is.
func describeForeign(f plan.Foreign) string {
	switch f.Kind {
	case "file":
		if other, ok := unit.ParseHeader(f.What); ok && other != "" {
			return fmt.Sprintf("it belongs to app %s; first line: %q", other, f.What)
		}
		return fmt.Sprintf("first line: %q", f.What)
	case "link":
		return fmt.Sprintf("a symbolic link to %q", f.What)
	default:
		return "not a regular file"
	}
}
