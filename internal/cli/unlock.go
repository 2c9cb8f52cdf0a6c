package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/openimsdk/openim-deploy/internal/lock"
	"github.com/openimsdk/openim-deploy/internal/phase"
)

func newUnlockCommand(g *GlobalOptions, stdio IO) *cobra.Command {
	var o fleetOptions
	cmd := &cobra.Command{
		Use:   "unlock",
		Short: "Break the deploy lock on hosts (after a killed run)",
		Long: `unlock removes the lease another run left on the selected hosts and prints
who held it. A lease also expires by itself (--lock-ttl of the run that took
it); unlock is for when you cannot wait. Make sure no run is still active.`,
		Example: `  openim-deploy unlock -i inventory/prod.hcl --limit im-2`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := loadFleet(g, stdio, o)
			if err != nil {
				return err
			}
			cfg, out := r.Config, r.Out
			p := phase.LockPath(cfg.Playbook.App.Name)
			unlock := phase.Func("Unlock", func(ctx context.Context, r *phase.Run) error {
				return r.EachHost(ctx, func(ctx context.Context, h *phase.Host) error {
					info, err := lock.Break(ctx, h.Target, p, h.Config.Become)
					switch {
					case err != nil:
						h.Fail(phase.OutcomeFailed, err)
						return err
					case info == nil:
						out.Host(h.Config.Name, "not locked")
					default:
						out.Host(h.Config.Name, "broke lock held by %s", info)
						h.Changed(1)
					}
					return nil
				})
			})
			return runPhases(cmd.Context(), r, []phase.Phase{phase.Connect{}, unlock})
		},
	}
	addFleetFlags(cmd, &o)
	return cmd
}
