package cli

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/openimsdk/openim-deploy/internal/phase"
)

func newPlanCommand(g *GlobalOptions, stdio IO) *cobra.Command {
	var o fleetOptions
	var detailed bool
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what apply would change, without changing anything",
		Long: `plan connects to every host with read-only access (any write is refused by
the tool itself), gathers state and prints per host: unit file diffs, binary
old and new sha256 and size, files that change, units to enable, and the
instances to start or restart, in the order apply would follow, then a text
diff of every template whose rendered text changes on a host. Secrets are
never shown, nor is the text of a sensitive template.

With --detailed-exitcode the exit status is 0 for no changes, 1 for an error
and 2 when there are changes, as in Terraform.`,
		Example: `  openim-deploy plan -i inventory/prod.hcl
  openim-deploy plan -i inventory/prod.hcl --detailed-exitcode --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.EveryHost = true // what the tool installed where nothing is placed any more is removed
			r, err := loadFleet(g, stdio, o)
			if err != nil {
				return err
			}
			started := time.Now()
			// Template text diffs need the hosts' current text: read it
			// after the plan, while the connections are still open.
			phases := append(phase.PlanPhases(), templateDiffs{})
			err = phase.Runner{Phases: phases}.Execute(cmd.Context(), r)
			if err != nil || anyHostFailed(r) {
				return recap(r, started, err)
			}
			if detailed && r.Plan.Changed() {
				return ErrChanges
			}
			return nil
		},
	}
	addFleetFlags(cmd, &o)
	cmd.Flags().BoolVar(&detailed, "detailed-exitcode", false, "exit 0 for no changes, 1 for an error, 2 for changes")
	return cmd
}

// anyHostFailed reports whether a host failed or could not be reached.
func anyHostFailed(r *phase.Run) bool {
	for _, h := range r.Hosts {
		if o, _, _ := h.Result(); o >= phase.OutcomeFailed {
			return true
		}
	}
	return false
}
