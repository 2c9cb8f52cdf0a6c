package phase

import (
	"context"
	"fmt"

	"github.com/openimsdk/openim-deploy/internal/layout"
	"github.com/openimsdk/openim-deploy/internal/plan"
	"github.com/openimsdk/openim-deploy/internal/release"
	"github.com/openimsdk/openim-deploy/internal/systemd"
	"github.com/openimsdk/openim-deploy/internal/target"
)

// Gather reads each host's state without changing anything, in one round
// trip per host: the releases on it and their manifests, the unit files and
// drop-ins the tool installed, systemd's view of every unit, and the
// release each main process runs (its working directory).
type Gather struct {
	// AuditLines is how many of each host's last audit log lines to read.
	AuditLines int
}

// Title implements Phase.
func (Gather) Title() string { return "Gather state" }

// Run implements Phase. Hosts whose state came back with their lock
// (AcquireLock's rider) are not asked again.
func (g Gather) Run(ctx context.Context, r *Run) error {
	local := NewLocalFiles()
	return r.EachHost(ctx, func(ctx context.Context, h *Host) error {
		if h.gathered {
			return nil
		}
		if err := h.buildDesired(r, local); err != nil {
			return err
		}
		rh := r.releaseHost(h)
		rh.T = target.ReadOnly(h.Target)
		names, req := gatherRequest(h.Desired, g.AuditLines, r.Opts.ReadLedger)
		st, err := rh.Gather(ctx, req)
		if err == nil {
			h.Actual, err = actualFrom(st, names, rh.Root)
		}
		if err != nil {
			h.Fail(OutcomeFailed, err)
			return fmt.Errorf("gather state: %w", err)
		}
		h.gathered = true
		return nil
	})
}

// buildDesired sets what the playbook wants on h.
func (h *Host) buildDesired(r *Run, local *LocalFiles) error {
	d, err := BuildDesired(r.Config, h.Placement, local)
	if err != nil {
		h.Fail(OutcomeFailed, err)
		return err
	}
	h.Desired = d
	return nil
}

// releaseHost is h as the release package addresses it.
func (r *Run) releaseHost(h *Host) release.Host {
	app := r.Config.Playbook.App
	return release.Host{
		T: h.Target, Sudo: h.Config.Become, Root: app.Root, App: app.Name,
		UnitDir: layout.UnitDir, StateDir: layout.AppStateDir(app.Name), ShadowDirs: layout.VendorUnitDirs(),
	}
}

// gatherRequest is what the plan needs read about d: its unit files and
// drop-ins, and systemd's view of the target and every instance (names,
// in the order systemd will answer).
func gatherRequest(d plan.Desired, auditLines int, ledger bool) ([]string, release.Request) {
	var files []string
	for _, uf := range d.UnitFiles {
		files = append(files, uf.Name)
	}
	names := []string{d.Target}
	for _, u := range d.Units {
		for _, n := range u.Names {
			names = append(names, n)
			files = append(files, release.DropInPath(n))
		}
	}
	return names, release.Request{Files: files, Units: names, ShowProperties: systemd.ShowProperties, AuditLines: auditLines, Ledger: ledger}
}

// actualFrom turns a gathered state into what the plan compares against.
func actualFrom(st *release.State, names []string, root string) (plan.Actual, error) {
	if len(st.Units) != len(names) {
		return plan.Actual{}, fmt.Errorf("systemctl show: asked about %d units, got %d records", len(names), len(st.Units))
	}
	a := plan.Actual{
		Current: st.Current, Releases: map[string]map[string]string{}, Partials: len(st.Partials),
		UnitFiles: st.Files, Owned: st.Owned, Wants: st.Wants, TaskRuns: st.TaskRuns,
		Units: map[string]plan.UnitState{}, Audit: st.Audit, Ledger: st.Ledger,
	}
	for _, f := range st.Foreign {
		a.Foreign = append(a.Foreign, plan.Foreign{Name: f.Rel, Kind: f.Kind, What: f.What})
	}
	for id, m := range st.Releases {
		a.Releases[id] = m
	}
	// systemd prints one record per argument, in argument order: order is
	// what ties a record to its unit (Id may be an alias).
	for i, us := range st.Units {
		ps := plan.UnitState{
			ActiveState: us.ActiveState,
			Active:      us.Active(), Enabled: us.Enabled(), Failed: us.ActiveState == "failed",
			StartLimitHit: us.StartLimitHit(),
			NeedReload:    us.NeedDaemonReload,
		}
		if us.MainPID > 0 {
			ps.Release = st.ReleaseOf(root, st.Cwd[us.MainPID])
		}
		a.Units[names[i]] = ps
	}
	return a, nil
}
