package phase

import (
	"context"
	"fmt"
	"strings"

	"github.com/openimsdk/openim-deploy/internal/layout"
	"github.com/openimsdk/openim-deploy/internal/plan"
	"github.com/openimsdk/openim-deploy/internal/release"
	"github.com/openimsdk/openim-deploy/internal/unit"
)

// ComputePlan turns desired and gathered state into the plan. Pure: it
// reads nothing from the hosts.
//
// A host where a path apply would write holds a file the tool did not
// write for this app is refused here, and only that host: its plan would
// overwrite the file (a unit of the system, of another app, or the
// operator's own), and the tool never writes over what it did not create.
// Nothing has changed on it yet; the other hosts go on.
type ComputePlan struct{}

// Title implements Phase.
func (ComputePlan) Title() string { return "Plan" }

// Run implements Phase.
func (ComputePlan) Run(_ context.Context, r *Run) error {
	waves, _ := waveOf(r.Config.Playbook)
	r.Plan = &plan.Plan{}
	for _, h := range r.Usable() {
		if r.refusedForeign(h) {
			continue
		}
		h.Plan = plan.Build(h.Desired, h.Actual, func(u string) int { return waves[u] }, r.Opts.ReleaseID)
		r.Plan.Hosts = append(r.Plan.Hosts, h.Plan)
	}
	WritePlan(r.Out, r.Plan)
	return nil
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
