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
	if hp.Reload {
		err = r.releaseHost(h).InstallAndReload(ctx, files, hp.Enable...)
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
		r.Out.Host(h.Config.Name, "pinned %s to release %s", strings.TrimSuffix(p.Name, ".d/release.conf"), hp.Release)
	}
	if hp.Reload {
		if err := checkReloaded(ctx, h); err != nil {
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

// unitFiles converts plan unit files for the release package.
func unitFiles(ufs []plan.UnitFile) []release.File {
	out := make([]release.File, len(ufs))
	for i, uf := range ufs {
		out[i] = release.File{Rel: uf.Name, Content: uf.Content}
	}
	return out
}

// checkReloaded fails when systemd still holds an old copy of a unit.
func checkReloaded(ctx context.Context, h *Host) error {
	var names []string
	for _, uf := range h.Plan.UnitFiles {
		if !strings.HasSuffix(uf.Name, "@.service") { // templates have no state of their own
			names = append(names, uf.Name)
		}
	}
	for _, u := range h.Desired.Units {
		names = append(names, u.Names...)
	}
	states, err := systemd.Show(ctx, h.Target, names...)
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
