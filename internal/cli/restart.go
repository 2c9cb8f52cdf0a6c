package cli

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/openimsdk/openim-deploy/internal/phase"
)

func newRestartCommand(g *GlobalOptions, stdio IO) *cobra.Command {
	var o fleetOptions
	var lockWait time.Duration
	var rf rolloutFlags
	cmd := &cobra.Command{
		Use:   "restart [SERVICE | SERVICE@INSTANCE ...]",
		Short: "Restart services or single instances with the rollout policy, health-gated",
		Long: `restart restarts the named services (every instance on every selected host) or
single instances, each on the release it runs now, in batches by the rollout
policy and dependency order, every batch health-gated before the next. It
restarts template instances one by one (systemctl restart svc@3), never the
app target, so every other process on the host keeps running. With no name,
every service is restarted. A failed batch stops the restart.`,
		Example: `  openim-deploy restart -i inventory/prod.hcl openim-push
  openim-deploy restart -i inventory/prod.hcl openim-push@3 --limit im-2
  openim-deploy restart -i inventory/prod.hcl --batch 25%`,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := loadFleet(g, stdio, o)
			if err != nil {
				return err
			}
			// Names the playbook does not have (openim-api@9) are refused
			// here, before any host is contacted or locked.
			f, err := phase.NewUnitFilter(r.Config.Playbook, args)
			if err != nil {
				return usageErrorf("restart: %v", err)
			}
			r.Opts.LockWait, r.Opts.Action = lockWait, "restart"
			if err := rf.apply(r, stdio); err != nil {
				return err
			}
			// There is no release to go back to: a restart keeps each
			// instance on the release it runs.
			setAutoRollback(r, false)
			return runPhases(cmd.Context(), r, phase.RestartPhases(f))
		},
	}
	addFleetFlags(cmd, &o)
	cmd.Flags().DurationVar(&lockWait, "lock-wait", 0, "wait this long for another run's lock instead of failing at once")
	addRolloutFlags(cmd, &rf)
	return cmd
}
