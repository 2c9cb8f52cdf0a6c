package phase

import (
	"context"
	"strings"

	"github.com/openimsdk/openim-deploy/internal/release"
	"github.com/openimsdk/openim-deploy/internal/systemd"
)

// RemoveOrphans stops, disables and removes what the tool installed on a
// host that the playbook no longer places there: a removed service or
// task, instances beyond a lowered count, a host dropped from a service's
// hosts. It runs after every wave is healthy, so capacity goes only once
// its replacement serves. Only files the tool marked as its own are
// candidates; nothing else under /etc/systemd/system is touched.
type RemoveOrphans struct{}

// Title implements Phase.
func (RemoveOrphans) Title() string { return "Remove what left the playbook" }

// Skip implements Skipper.
func (RemoveOrphans) Skip(r *Run) (string, bool) {
	for _, h := range r.Usable() {
		if h.Plan != nil && (len(h.Plan.Orphans) > 0 || len(h.Plan.OrphanFiles) > 0) {
			return "", false
		}
	}
	return "nothing the tool installed has left the playbook", true
}

// Run implements Phase.
func (RemoveOrphans) Run(ctx context.Context, r *Run) error {
	return r.EachHost(ctx, func(ctx context.Context, h *Host) error {
		hp := h.Plan
		if hp == nil || len(hp.Orphans)+len(hp.OrphanFiles) == 0 {
			return nil
		}
		if err := removeOrphans(ctx, r, h); err != nil {
			h.Fail(OutcomeFailed, err)
			r.Out.HostError(h.Config.Name, "%v", err)
			return err
		}
		return nil
	})
}

func removeOrphans(ctx context.Context, r *Run, h *Host) error {
	hp := h.Plan
	for _, u := range hp.Orphans {
		if err := systemd.Stop(ctx, h.Target, u); err != nil {
			return err
		}
	}
	if len(hp.Orphans) > 0 {
		if err := systemd.Disable(ctx, h.Target, hp.Orphans...); err != nil {
			return err
		}
		// A failed orphan would linger in "systemctl --failed" forever.
		_ = systemd.ResetFailed(ctx, h.Target, hp.Orphans...)
		r.Out.Host(h.Config.Name, "stopped and disabled %s", strings.Join(hp.Orphans, " "))
	}
	var files []release.File
	for _, f := range hp.OrphanFiles {
		files = append(files, release.File{Rel: f, Delete: true})
	}
	if err := r.releaseHost(h).Install(ctx, files); err != nil {
		return err
	}
	if err := systemd.DaemonReload(ctx, h.Target); err != nil {
		return err
	}
	for _, f := range hp.OrphanFiles {
		r.Out.Host(h.Config.Name, "removed %s", f)
	}
	h.Changed(len(hp.Orphans) + len(files))
	return nil
}
