package release

import (
	"context"
	_ "embed"
	"fmt"
	"strings"
)

//go:embed scripts/uninstall.sh
var uninstallScript string

// UninstallMode says how far Uninstall goes.
type UninstallMode string

// Uninstall modes: see scripts/uninstall.sh.
const (
	// UninstallUnits stops, disables and removes the app's units.
	UninstallUnits UninstallMode = "units"
	// UninstallPurge also removes releases/, current, the app's state
	// directory, and the root when the tool created it and it is empty.
	UninstallPurge UninstallMode = "purge"
	// UninstallPreview changes nothing: it lists what a purge removes.
	UninstallPreview UninstallMode = "preview"
)

// Uninstall removes what the tool installed for the app on the host, by
// exact name: the unit files and drop-ins named by units (the playbook's
// names) or by the host's record of what it created (StateDir/owned),
// when their header says they are the app's; with UninstallPurge the
// releases, current, the state directory and the root, when the record
// says the tool created it and nothing else lives in it. It returns one
// line per path removed or kept (for UninstallPreview, "remove PATH" per
// path a purge would remove); none when nothing of the app is there.
func (h Host) Uninstall(ctx context.Context, mode UninstallMode, units []string) ([]string, error) {
	args := append([]string{h.App, h.Root, h.UnitDir, h.StateDir, string(mode)}, units...)
	res, err := h.run(ctx, withHeader(uninstallScript), nil, mode == UninstallPreview, args...)
	if err != nil {
		return nil, fmt.Errorf("uninstall: %w", err)
	}
	out := strings.TrimSpace(string(res.Stdout))
	if out == "" {
		return nil, nil
	}
	return strings.Split(out, "\n"), nil
}
