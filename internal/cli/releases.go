package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/openimsdk/openim-deploy/internal/ledger"
	"github.com/openimsdk/openim-deploy/internal/phase"
	"github.com/openimsdk/openim-deploy/internal/ui"
)

func newReleasesCommand(g *GlobalOptions, stdio IO) *cobra.Command {
	var o fleetOptions
	cmd := &cobra.Command{
		Use:   "releases",
		Short: "List the releases kept on each host, which instances run them, and the audit log",
		Long: `releases prints, per host, every release kept under the app root, newest
first: which one current points to, what the host's release ledger says of
each (current, previous: the one rollback goes to, served, failed, rolled
back), which instances run each (read from the processes on the host) and
how many partial releases interrupted runs left, then the last lines of the
host's audit log (when, who, from where, which command, from which release
to which, and how it ended). Read-only.`,
		Example: `  openim-deploy releases -i inventory/prod.hcl --limit im-1`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := loadFleet(g, stdio, o)
			if err != nil {
				return err
			}
			r.Opts.ReadLedger = true
			show := phase.Func("Releases", func(_ context.Context, r *phase.Run) error {
				for _, h := range r.Usable() {
					printReleases(r.Out, h)
				}
				return nil
			})
			return runPhases(cmd.Context(), r, []phase.Phase{phase.Render{}, phase.ReadHosts{AuditLines: 20}, show})
		},
	}
	addFleetFlags(cmd, &o)
	return cmd
}

// printReleases prints one host's releases, newest first, and its audit tail.
func printReleases(out *ui.Printer, h *phase.Host) {
	a := h.Actual
	runs := map[string][]string{}
	for name, st := range a.Units {
		if st.Release != "" {
			runs[st.Release] = append(runs[st.Release], strings.TrimSuffix(name, ".service"))
		}
	}
	ids := make([]string, 0, len(a.Releases))
	for id := range a.Releases {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	slices.Reverse(ids)
	name := h.Config.Name
	if len(ids) == 0 {
		out.Host(name, "no release")
	}
	history := ledger.History(ledger.Parse(a.Ledger))
	previous, _ := history.Previous(a.Current, func(id string) bool { _, ok := a.Releases[id]; return ok })
	for _, id := range ids {
		mark := " "
		if id == a.Current {
			mark = "*"
		}
		status := history.Status(id, a.Current)
		if id == previous {
			status = append([]string{"previous"}, status...)
		}
		slices.Sort(runs[id])
		text := fmt.Sprintf("[%s] %s %s", name, mark, id)
		if len(status) > 0 {
			text += "  (" + strings.Join(status, ", ") + ")"
		}
		if len(runs[id]) > 0 {
			text += "  runs: " + strings.Join(runs[id], " ")
		}
		out.Event(ui.Event{Type: "release", Host: name, Msg: id, Fields: map[string]any{
			"current": id == a.Current, "previous": id == previous, "status": status, "instances": runs[id]}}, text)
	}
	if a.Partials > 0 {
		out.Event(ui.Event{Type: "partial", Host: name, Msg: fmt.Sprint(a.Partials)},
			fmt.Sprintf("[%s]   %d partial release(s) left by interrupted runs (the next apply removes them)", name, a.Partials))
	}
	for _, line := range a.Audit {
		out.Event(ui.Event{Type: "audit", Host: name, Msg: line}, fmt.Sprintf("[%s]   audit: %s", name, line))
	}
}
