package cli

import (
	"github.com/spf13/cobra"

	"github.com/openimsdk/openim-deploy/internal/phase"
)

func newStartCommand(g *GlobalOptions, stdio IO) *cobra.Command {
	var o fleetOptions
	cmd := &cobra.Command{
		Use:   "start [SERVICE[@INSTANCE]...]",
		Short: "Start units in dependency order, gating each wave on its health check",
		Long: `start starts the named tasks, services or single instances (all of them when
none is named) on the selected hosts. Like apply, it goes wave by wave in
dependency order across the whole fleet and waits for every instance of a
wave to pass its health gate before the next wave begins; a failed gate
stops the run. Starting everything also starts the app's target. It never
changes files or units: run apply for that.`,
		Example: `  openim-deploy start -i inventory/prod.hcl
  openim-deploy start -i inventory/prod.hcl openim-api openim-push@3
  openim-deploy start -i inventory/prod.hcl --limit 'app[0]'`,
		ValidArgsFunction: completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			// waves, health-gated
			return runSelected(cmd, g, stdio, o, args, phase.StartPhases)
		},
	}
	addFleetFlags(cmd, &o)
	return cmd
}

func newStopCommand(g *GlobalOptions, stdio IO) *cobra.Command {
	var o fleetOptions
	cmd := &cobra.Command{
		Use:   "stop [SERVICE[@INSTANCE]...]",
		Short: "Stop units in reverse dependency order",
		Long: `stop stops the named tasks, services or single instances (all of them when
none is named) on the selected hosts, in reverse dependency order across the
fleet: dependents everywhere first, then what they depend on. Each stop
waits for the units to be down, up to their stop timeout (after which
systemd kills them). Stopping everything also stops the app's target.
Units stay enabled: they come back at boot, or with start.`,
		Example: `  openim-deploy stop -i inventory/prod.hcl
  openim-deploy stop -i inventory/prod.hcl openim-push
  openim-deploy stop -i inventory/prod.hcl --limit im-3`,
		ValidArgsFunction: completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			// reverse waves
			return runSelected(cmd, g, stdio, o, args, func(f phase.UnitFilter) []phase.Phase {
				return []phase.Phase{phase.Connect{}, phase.AcquireLock{}, phase.StopUnits{Filter: f}}
			})
		},
	}
	addFleetFlags(cmd, &o)
	return cmd
}

// runSelected runs step over the units args name (all when none), on one
// connection per host and under the host lock: start and stop never run
// while an apply does.
func runSelected(cmd *cobra.Command, g *GlobalOptions, stdio IO, o fleetOptions, args []string, phases func(phase.UnitFilter) []phase.Phase) error {
	r, err := loadFleet(g, stdio, o)
	if err != nil {
		return err
	}
	f, err := phase.NewUnitFilter(r.Config.Playbook, args)
	if err != nil {
		return usageErrorf("%v", err)
	}
	return runPhases(cmd.Context(), r, phases(f))
}
