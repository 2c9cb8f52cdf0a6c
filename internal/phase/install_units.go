package phase

import (
	"context"
	"fmt"
	"strings"

	"github.com/openimsdk/openim-deploy/internal/plan"
	"github.com/openimsdk/openim-deploy/internal/release"
	"github.com/openimsdk/openim-deploy/internal/systemd"
)

// InstallUnits writes changed unit files and the drop-ins of instances that
// move to the new release without a restart, all in one round trip with
// each file's length and hash checked on the host; runs daemon-reload;
// confirms systemd has no stale unit (NeedDaemonReload=no, the classic
// forgotten reload); and enables the target and every instance. Drop-ins
// of instances that restart are written later, at their turn.
type InstallUnits struct{}

// Title implements Phase.
func (InstallUnits) Title() string { return "Install units" }

// Skip implements Skipper.
func (InstallUnits) Skip(r *Run) (string, bool) {
	for _, h := range r.Usable() {
		if hp := h.Plan; hp != nil && (len(hp.UnitFiles) > 0 || len(hp.Pins) > 0 || hp.Reload || len(hp.Enable) > 0) {
			return "", false
		}
	}
	return "unit files and enablement already match", true
}

// Run implements Phase.
func (InstallUnits) Run(ctx context.Context, r *Run) error {
	return r.EachHost(ctx, func(ctx context.Context, h *Host) error {
		if err := installUnits(ctx, r, h); err != nil {
			h.Fail(OutcomeFailed, err)
			r.Out.HostError(h.Config.Name, "%v", err)
			return err
		}
		return nil
	})
}

func installUnits(ctx context.Context, r *Run, h *Host) error {
	hp := h.Plan
	if hp == nil {
		return nil
	}
	files := unitFiles(hp.UnitFiles)
	files = append(files, unitFiles(hp.Pins)...)
	// With a reload, the files, the enabling and the reload are one round
	// trip and one daemon-reload.
	var err error
	var shown []byte
	if hp.Reload {
		files = append(files, coldPins(h)...)
		shown, err = r.releaseHost(h).InstallReloadShow(ctx, files, hp.Enable, reloadedNames(h))
	} else {
		err = r.releaseHost(h).Install(ctx, files)
	}
	if err != nil {
		return err
	}
	h.wroteUnitFiles(files)
	for _, uf := range hp.UnitFiles {
		r.Out.Host(h.Config.Name, "installed %s", uf.Name)
	}
	for _, p := range hp.Pins {
		r.Out.Host(h.Config.Name, "pinned %s to release %s", plan.DropInUnit(p.Name), hp.Release)
	}
	if hp.Reload {
		if err := checkReloaded(shown); err != nil {
			return err
		}
		h.Changed(len(files) + 1)
	}
	if len(hp.Enable) > 0 {
		if !hp.Reload {
			if err := systemd.Enable(ctx, h.Target, hp.Enable...); err != nil {
				return err
			}
		}
		r.Out.Host(h.Config.Name, "enabled %s", strings.Join(hp.Enable, " "))
		h.Changed(1)
	}
	return nil
}

// coldPins are the drop-ins of instances and tasks that start cold:
// nothing runs them and systemd will not start them by itself (inactive
// or failed, not in an auto-restart loop; a one-shot task is inactive
// between runs), so writing them with the unit files moves no process
// early, and saves their wave a second install and daemon-reload (on a
// cold apply, every instance and task). The rest are pinned at their turn.
func coldPins(h *Host) []release.File {
	var files []release.File
	for _, s := range h.Plan.Starts {
		if s.Restart || s.DropIn == nil {
			continue
		}
		switch h.Actual.Units[s.Name].ActiveState {
		case "", "inactive", "failed":
			files = append(files, release.File{Rel: release.DropInPath(s.Name), Content: s.DropIn})
		}
	}
	return files
}

// unitFiles converts plan unit files for the release package.
func unitFiles(ufs []plan.UnitFile) []release.File {
	out := make([]release.File, len(ufs))
	for i, uf := range ufs {
		out[i] = release.File{Rel: uf.Name, Content: uf.Content}
	}
	return out
}

// reloadedNames are the units whose NeedDaemonReload proves the reload:
// every changed unit file but templates (which have no state of their
// own), and every instance.
func reloadedNames(h *Host) []string {
	var names []string
	for _, uf := range h.Plan.UnitFiles {
		if !strings.HasSuffix(uf.Name, "@.service") {
			names = append(names, uf.Name)
		}
	}
	for _, u := range h.Desired.Units {
		names = append(names, u.Names...)
	}
	return names
}

// checkReloaded fails when systemd still holds an old copy of a unit, as
// the "systemctl show" read after the reload (shown) says.
func checkReloaded(shown []byte) error {
	states, err := systemd.ParseShow(shown)
	if err != nil {
		return err
	}
	for _, st := range states {
		if st.NeedDaemonReload {
			return fmt.Errorf("%s: systemd still reports NeedDaemonReload=yes after daemon-reload", st.ID)
		}
	}
	return nil
}
