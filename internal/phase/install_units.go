package phase

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/openimsdk/openim-deploy/internal/layout"
	"github.com/openimsdk/openim-deploy/internal/systemd"
	"github.com/openimsdk/openim-deploy/internal/target"
)

// InstallUnits writes changed unit files, runs daemon-reload, confirms
// systemd has no stale unit (NeedDaemonReload=no, the classic forgotten
// reload), and enables the target and every instance.
type InstallUnits struct{}

// Title implements Phase.
func (InstallUnits) Title() string { return "Install units" }

// Skip implements Skipper.
func (InstallUnits) Skip(r *Run) (string, bool) {
	for _, h := range r.Usable() {
		if h.Plan != nil && (len(h.Plan.UnitFiles) > 0 || len(h.Plan.Enable) > 0) {
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
	for _, uf := range hp.UnitFiles {
		if err := writeRootFile(ctx, h, layout.UnitPath(uf.Name), uf.Content); err != nil {
			return fmt.Errorf("install %s: %w", uf.Name, err)
		}
		r.Out.Host(h.Config.Name, "installed %s", uf.Name)
	}
	if len(hp.UnitFiles) > 0 {
		if err := systemd.DaemonReload(ctx, h.Target); err != nil {
			return err
		}
		if err := checkReloaded(ctx, h); err != nil {
			return err
		}
		h.Changed(len(hp.UnitFiles))
	}
	if len(hp.Enable) > 0 {
		if err := systemd.Enable(ctx, h.Target, hp.Enable...); err != nil {
			return err
		}
		r.Out.Host(h.Config.Name, "enabled %s", strings.Join(hp.Enable, " "))
		h.Changed(1)
	}
	return nil
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

// writeRootFileScript replaces $1 with stdin atomically: temp file in the
// same directory, then rename.
const writeRootFileScript = `set -e
tmp="$1.openim-deploy.tmp"
cat > "$tmp"
chmod 0644 "$tmp"
mv -f "$tmp" "$1"
`

// writeRootFile writes a root-owned, world-readable file. Over a root login
// it uses the verified SFTP path; otherwise the content goes through
// "sudo -n sh" on stdin, never on a command line.
func writeRootFile(ctx context.Context, h *Host, path string, content []byte) error {
	if !target.UsesSudo(h.Target, h.Config.User, h.Config.Become) {
		return h.Target.WriteFile(ctx, path, bytes.NewReader(content), 0o644)
	}
	_, err := h.Target.Run(ctx, target.Cmd{
		Args:  []string{"sh", "-c", writeRootFileScript, "sh", path},
		Stdin: bytes.NewReader(content),
		Sudo:  true,
	})
	return err
}
