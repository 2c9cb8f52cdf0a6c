package cli

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/openimsdk/openim-deploy/internal/phase"
)

func newRollbackCommand(g *GlobalOptions, stdio IO) *cobra.Command {
	var o fleetOptions
	var lockWait time.Duration
	var to string
	var force bool
	var rf rolloutFlags
	cmd := &cobra.Command{
		Use:   "rollback",
		Short: "Move every instance back to the previous release (or --to one), rolling",
		Long: `rollback moves every instance on the selected hosts back to the release that
was current before the current one, by each host's release ledger (never by
id order: a release that failed its health gate never became current and is
never a target), or to the release named with --to, kept on the hosts; --to
refuses a release that never became current unless --force. A release holds
the unit text it ran with, so the units are restored from it, not rendered
from today's playbook, and what it does not have (a service added since,
instances beyond its count) is stopped, disabled and removed. Instances move
in batches by the rollout policy, each batch health-gated; a batch that fails
is returned to the release it ran and the rollback stops. current then points
at the release. The next apply moves the fleet to what the playbook says
again: fix the playbook first.`,
		Example: `  openim-deploy rollback -i inventory/prod.hcl
  openim-deploy rollback -i inventory/prod.hcl --to 20261201T101512.345Z-3f9a
  openim-deploy releases -i inventory/prod.hcl     # the ids kept on each host`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := loadFleet(g, stdio, o)
			if err != nil {
				return err
			}
			r.Opts.LockWait, r.Opts.Action, r.Opts.ReadLedger = lockWait, "rollback", true
			if err := rf.apply(r, stdio); err != nil {
				return err
			}
			// A failed batch of a rollback returns to the release it ran
			// and stops: the command's own safety net, whatever the
			// playbook's policy says. No command may leave more instances
			// down than before it started.
			setAutoRollback(r, true)
			return runPhases(cmd.Context(), r, phase.RollbackPhases(to, force))
		},
	}
	addFleetFlags(cmd, &o)
	cmd.Flags().StringVar(&to, "to", "", "the release to go back to (default: the one current before current, by the ledger)")
	cmd.Flags().BoolVar(&force, "force", false, "with --to: go to a release that never became current (one that failed, or was only built)")
	cmd.Flags().DurationVar(&lockWait, "lock-wait", 0, "wait this long for another run's lock instead of failing at once")
	addRolloutFlags(cmd, &rf)
	return cmd
}
