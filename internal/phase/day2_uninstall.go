package phase

import (
	"context"
	"fmt"
	"strings"

	"github.com/openimsdk/openim-deploy/internal/layout"
	"github.com/openimsdk/openim-deploy/internal/release"
	"github.com/openimsdk/openim-deploy/internal/unit"
)

// Uninstall removes what openim-deploy installed for the app from every
// host: it stops and disables the app's units, deletes their unit files,
// managed drop-ins and the app target, and reloads systemd. With Purge it
// also deletes the app's releases, current link and state directory, and
// the root when the tool created it and nothing else lives in it. It is
// idempotent: a second run finds nothing and says so.
//
// Only what is the tool's is touched, by exact name, never by glob (see
// internal/release/scripts/uninstall.sh): a unit file or drop-in is
// removed when its name is one the playbook gives the app or one the
// host's record of what the tool created lists, AND its first line is
// openim-deploy's header naming this app. A unit someone else wrote under
// the same name is left alone, and so is a drop-in directory or an app
// root that holds files of their own. Another app's state ("im.v2" beside
// "im") is never touched.
type Uninstall struct {
	Purge bool
	// Confirm, when set, is asked before anything is removed, with what a
	// purge would remove on each host (read from the hosts' records): an
	// error stops the phase with nothing changed.
	Confirm func(preview []HostPreview) error
}

// HostPreview is what a purge would remove on one host: unit files and
// directories, by path.
type HostPreview struct {
	Host  string
	Paths []string
}

// Title implements Phase.
func (Uninstall) Title() string { return "Uninstall" }

// Run implements Phase.
func (u Uninstall) Run(ctx context.Context, r *Run) error {
	app := r.Config.Playbook.App
	if err := checkPurgeRoot(app.Root); u.Purge && err != nil {
		return err
	}
	names := appUnitNames(r)
	if u.Confirm != nil {
		preview, err := previewUninstall(ctx, r, names)
		if err != nil {
			return err
		}
		if err := u.Confirm(preview); err != nil {
			return err
		}
	}
	mode := release.UninstallUnits
	if u.Purge {
		mode = release.UninstallPurge
	}
	_ = r.EachHost(ctx, func(ctx context.Context, h *Host) error {
		lines, err := r.releaseHost(h).Uninstall(ctx, mode, names)
		if err != nil {
			h.Fail(OutcomeFailed, err)
			r.Out.HostError(h.Config.Name, "%v", err)
			return err
		}
		if len(lines) == 0 {
			r.Out.Host(h.Config.Name, "nothing of %s is installed", app.Name)
			return nil
		}
		changed := 0
		for _, l := range lines {
			r.Out.Host(h.Config.Name, "%s", l)
			// "kept ..." says what stays (an operator's file in a drop-in
			// directory, data under the root): not a change, or a second
			// uninstall would report one forever.
			if !strings.HasPrefix(l, "kept ") {
				changed++
			}
		}
		h.Changed(changed)
		return nil
	})
	return hostErrors(r, OutcomeUnreachable)
}

// previewUninstall reads, on every host, what a purge would remove, in
// inventory order. It changes nothing.
func previewUninstall(ctx context.Context, r *Run, names []string) ([]HostPreview, error) {
	hosts := r.Usable()
	preview := make([]HostPreview, len(hosts))
	slot := make(map[*Host]int, len(hosts))
	for i, h := range hosts {
		slot[h] = i
	}
	err := r.EachHost(ctx, func(ctx context.Context, h *Host) error {
		lines, err := r.releaseHost(h).Uninstall(ctx, release.UninstallPreview, names)
		if err != nil {
			return err
		}
		p := HostPreview{Host: h.Config.Name}
		for _, l := range lines {
			if path, ok := strings.CutPrefix(l, "remove "); ok {
				p.Paths = append(p.Paths, path)
			}
		}
		preview[slot[h]] = p
		return nil
	})
	return preview, err
}

// checkPurgeRoot refuses to purge a system or shared directory as an app
// root: config validation already refuses one (layout.RootRefusal), and
// before removing anything a second check is cheap.
func checkPurgeRoot(root string) error {
	if why := layout.RootRefusal(root); why != "" {
		return fmt.Errorf("refusing to purge app root %q: %s", root, why)
	}
	return nil
}

// appUnitNames lists every unit name the playbook gives the app, on any
// host: unit files (task units, service templates, the target) and every
// service instance, so units left by an earlier placement go too.
func appUnitNames(r *Run) []string {
	pb := r.Config.Playbook
	var names []string
	for _, t := range pb.Tasks {
		names = append(names, unit.TaskUnitName(t.Name))
	}
	for _, s := range pb.Services {
		names = append(names, unit.TemplateName(s.Name))
		for _, in := range s.Instances {
			names = append(names, unit.InstanceName(s.Name, in.Name))
		}
	}
	return append(names, unit.TargetName(pb.App.Name))
}
