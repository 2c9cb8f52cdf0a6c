package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/openimsdk/openim-deploy/internal/phase"
)

// errNotConfirmed is returned when uninstall was not confirmed.
var errNotConfirmed = errors.New("not confirmed")

func newUninstallCommand(g *GlobalOptions, stdio IO) *cobra.Command {
	var o fleetOptions
	var purge, yes bool
	cmd := &cobra.Command{
		Use:   "uninstall [--purge]",
		Short: "Stop the app and remove its units, drop-ins and target from the hosts",
		Long: `uninstall stops and disables every unit of the app on the selected hosts,
deletes the unit files, drop-ins and the app target openim-deploy installed,
and reloads systemd. With --purge it also deletes the app root (every
release, the current link) and the tool's state for the app under
/var/lib/openim-deploy.

Only what openim-deploy wrote is removed: a file is deleted when its name is
one the playbook gives the app and its first line is the tool's
"# Managed by openim-deploy" header. A drop-in directory that also holds
files of your own is kept, and named. The app's system user is kept: other
apps may share it.

On a terminal uninstall asks before doing anything; -y answers yes. Without
a terminal and without -y it refuses, so a script never uninstalls by
accident.`,
		Example: `  openim-deploy uninstall -i inventory/prod.hcl
  openim-deploy uninstall -i inventory/prod.hcl --limit im-3 --purge -y`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := loadFleet(g, stdio, o)
			if err != nil {
				return err
			}
			var hosts []string
			for _, h := range r.Hosts {
				hosts = append(hosts, h.Config.Name)
			}
			what := "Uninstall " + r.Config.Playbook.App.Name
			if purge {
				what += " and purge " + r.Config.Playbook.App.Name + "'s releases and state"
			}
			question := fmt.Sprintf("%s on %d hosts (%s)?", what, len(hosts), hostSets(r).Name(hosts))
			if err := confirm(stdio, question, yes); err != nil {
				return err
			}
			return runPhases(cmd.Context(), r, []phase.Phase{
				phase.Connect{},               // one connection per host
				phase.AcquireLock{},           // never while an apply runs; released (removed) at the end
				phase.Uninstall{Purge: purge}, // stop, disable, remove, daemon-reload
			})
		},
	}
	addFleetFlags(cmd, &o)
	cmd.Flags().BoolVar(&purge, "purge", false, "also remove the app root (all releases) and the tool's state for the app")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

// confirm asks question on a terminal and wants "y" or "yes". Without a
// terminal it refuses unless yes is set: nothing destructive happens
// because a pipe happened to be open.
func confirm(stdio IO, question string, yes bool) error {
	if yes {
		return nil
	}
	if !isTerminal(stdio.In) || !isTerminal(stdio.Err) {
		return fmt.Errorf("%s: refusing without a terminal to ask on; pass -y to confirm", strings.TrimSuffix(question, "?"))
	}
	fmt.Fprintf(stdio.Err, "%s [y/N] ", question)
	line, err := bufio.NewReader(stdio.In).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return errNotConfirmed
}
