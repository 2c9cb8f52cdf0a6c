package cli

import (
	"context"
	"fmt"
	"sync"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/openimsdk/openim-deploy/internal/phase"
	"github.com/openimsdk/openim-deploy/internal/systemd"
	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/unit"
)

func newStatusCommand(g *GlobalOptions, stdio IO) *cobra.Command {
	var o fleetOptions
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the state of every placed unit on every host",
		Long: `status connects read-only and prints, per host in inventory order, every task
and instance the playbook places there: systemd's ActiveState and SubState,
the main PID, how often systemd restarted it, and when it last started.`,
		Example: `  openim-deploy status -i inventory/prod.hcl
  openim-deploy status -i inventory/prod.hcl --limit app --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := loadFleet(g, stdio, o)
			if err != nil {
				return err
			}
			cfg := r.Config
			var mu sync.Mutex
			states := map[*phase.Host][]systemd.UnitState{}
			show := phase.Func("Status", func(ctx context.Context, r *phase.Run) error {
				return r.EachHost(ctx, func(ctx context.Context, h *phase.Host) error {
					names := append([]string{unit.TargetName(cfg.Playbook.App.Name)}, unit.Instances(h.Placement)...)
					st, err := systemd.Show(ctx, target.ReadOnly(h.Target), names...)
					if err != nil {
						h.Fail(phase.OutcomeFailed, err)
						return err
					}
					mu.Lock()
					states[h] = st
					mu.Unlock()
					return nil
				})
			})
			err = phase.Runner{Phases: []phase.Phase{phase.Connect{}, show}}.Execute(cmd.Context(), r)
			unhealthy := writeStatus(stdio, g.Output == "json", r, states)
			if err != nil || anyHostFailed(r) {
				return recap(r, r.Clock.Now(), err)
			}
			if unhealthy > 0 {
				return reported(fmt.Errorf("%d units are not active", unhealthy))
			}
			return nil
		},
	}
	addFleetFlags(cmd, &o)
	return cmd
}

// writeStatus prints the table (or JSON lines) and counts inactive units.
func writeStatus(stdio IO, asJSON bool, r *phase.Run, states map[*phase.Host][]systemd.UnitState) int {
	bad := 0
	tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
	if !asJSON {
		fmt.Fprintln(tw, "HOST\tUNIT\tACTIVE\tSUB\tPID\tRESTARTS\tSINCE")
	}
	for _, h := range r.Hosts { // inventory order, whatever order hosts answered in
		for _, st := range states[h] {
			if !st.Active() {
				bad++
			}
			if asJSON {
				_ = writeJSONLine(stdio.Out, map[string]any{"type": "status", "host": h.Config.Name, "unit": st.ID,
					"active": st.ActiveState, "sub": st.SubState, "pid": st.MainPID, "restarts": st.NRestarts,
					"since": st.ExecMainStartTimestamp})
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", h.Config.Name, st.ID, st.ActiveState, st.SubState,
				st.MainPID, st.NRestarts, st.ExecMainStartTimestamp)
		}
	}
	_ = tw.Flush()
	return bad
}
