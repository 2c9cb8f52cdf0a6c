package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/phase"
)

func newApplyCommand(g *GlobalOptions, stdio IO) *cobra.Command {
	var o fleetOptions
	var lockWait, lockTTL time.Duration
	var keepGoing, dryRun bool
	var compress string
	var rf rolloutFlags
	cmd := &cobra.Command{
		Use:   "apply",
		Short: "Push releases and units, and start everything in dependency order with health gates",
		Long: `apply validates the configuration, connects to every host, runs pre-flight
checks, takes each host's lock, gathers the current state read-only, and then
does only what the plan says: push changed files into a new release, switch
install changed units, daemon-reload, enable, and start or restart every
instance whose running release differs from the wanted one, in dependency
waves across the fleet, gating every one on its health check; then remove
what left the playbook and point current at the new release. A second apply
with nothing changed does nothing.`,
		Example: `  openim-deploy apply -i inventory/prod.hcl
  openim-deploy apply -i inventory/prod.hcl -var bin_dir=./_output/bin --limit im-1
  openim-deploy apply -i inventory/prod.hcl --dry-run
  openim-deploy apply -i inventory/prod.hcl --batch 25% --canary 1 --pause 30s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.EveryHost = true // what the tool installed where nothing is placed any more is removed
			r, err := loadFleet(g, stdio, o)
			if err != nil {
				return err
			}
			r.Opts.LockWait, r.Opts.LockTTL, r.Opts.KeepGoing = lockWait, lockTTL, keepGoing
			r.Opts.Action = "apply"
			if compress != "" {
				c, err := config.ParseCompress(compress)
				if err != nil {
					return fmt.Errorf("--compress %q: %w", compress, err)
				}
				r.Config.Playbook.App.Compress = c
			}
			if err := rf.apply(r, stdio); err != nil {
				return err
			}
			phases := phase.ApplyPhases()
			if dryRun {
				phases = phase.PlanPhases()
			}
			return runPhases(cmd.Context(), r, phases)
		},
	}
	addFleetFlags(cmd, &o)
	f := cmd.Flags()
	f.DurationVar(&lockWait, "lock-wait", 0, "wait this long for another run's lock instead of failing at once")
	f.DurationVar(&lockTTL, "lock-ttl", defaultLockTTL, "lease length of the host lock; refreshed while the run lasts")
	f.BoolVar(&keepGoing, "keep-going", false, "after a failed health gate, still start units that do not depend on it")
	f.BoolVar(&dryRun, "dry-run", false, "print the plan and change nothing (same as plan)")
	f.StringVar(&compress, "compress", "", `send release files gzip-compressed: "auto", "always" or "never" (default: the playbook's compress, else auto)`)
	addRolloutFlags(cmd, &rf)
	return cmd
}
