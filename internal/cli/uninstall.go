package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/openimsdk/openim-deploy/internal/layout"
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
and reloads systemd. With --purge it also deletes the app's releases
(<root>/releases), the current link and the tool's state for the app
(/var/lib/openim-deploy/<app>), and the root itself only when
openim-deploy created it and nothing else lives in it.

Only what openim-deploy created is removed, by exact name, never by
pattern: each host keeps a record of the paths the tool created for the
app (/var/lib/openim-deploy/<app>/owned). A unit file is deleted when the
playbook or the record names it and its first line is the tool's
"# Managed by openim-deploy" header for this app. A drop-in directory or an
app root that also holds files of your own is kept, and named ("kept
/srv/im: it holds data/ that openim-deploy did not create"). Another app's
state and lock are never touched. The app's system user is kept: other
apps may share it.

On a terminal uninstall asks before doing anything (with --purge, after
reading every host's record, naming each directory it will remove); -y
answers yes. Without a terminal and without -y it refuses, so a script
never uninstalls by accident.`,
		Example: `  openim-deploy uninstall -i inventory/prod.hcl
  openim-deploy uninstall -i inventory/prod.hcl --limit im-3 --purge -y`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.EveryHost = true // a host that lost its last placement still holds what the tool installed
			r, err := loadFleet(g, stdio, o)
			if err != nil {
				return err
			}
			var hosts []string
			for _, h := range r.Hosts {
				hosts = append(hosts, h.Config.Name)
			}
			app := r.Config.Playbook.App.Name
			on := fmt.Sprintf("on %d hosts (%s)", len(hosts), hostSets(r).Name(hosts))
			uninstall := phase.Uninstall{Purge: purge}
			if !purge {
				if err := confirm(stdio, fmt.Sprintf("Uninstall %s %s?", app, on), yes); err != nil {
					return err
				}
			} else if !yes {
				// Refused before connecting when there is no terminal to
				// ask on; otherwise asked once every host has said what
				// the purge would remove there.
				what := fmt.Sprintf("Uninstall and purge %s %s", app, on)
				if err := requireTerminal(stdio, what); err != nil {
					return err
				}
				uninstall.Confirm = func(preview []phase.HostPreview) error {
					return ask(stdio, purgeQuestion(r, what, preview))
				}
			}
			return runPhases(cmd.Context(), r, []phase.Phase{
				phase.Connect{},     // one connection per host
				phase.AcquireLock{}, // never while an apply runs; released (removed) at the end
				uninstall,           // (ask, naming what a purge removes,) stop, disable, remove, daemon-reload
			})
		},
	}
	addFleetFlags(cmd, &o)
	cmd.Flags().BoolVar(&purge, "purge", false, "also remove the releases, current and the tool's state for the app (and the root, if the tool created it and it is empty)")
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
	if err := requireTerminal(stdio, strings.TrimSuffix(question, "?")); err != nil {
		return err
	}
	return ask(stdio, question)
}

// requireTerminal refuses to do what without a terminal to ask on.
func requireTerminal(stdio IO, what string) error {
	if !isTerminal(stdio.In) || !isTerminal(stdio.Err) {
		return fmt.Errorf("%s: refusing without a terminal to ask on; pass -y to confirm", what)
	}
	return nil
}

// ask asks question and wants "y" or "yes".
func ask(stdio IO, question string) error {
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

// purgeQuestion names, host set by host set, every directory the purge
// removes (as the hosts' records say) and how many unit files go with
// them, so an operator sees "/srv/im/releases", not "the app root".
func purgeQuestion(r *phase.Run, what string, preview []phase.HostPreview) string {
	sets := hostSets(r)
	var b strings.Builder
	b.WriteString(what + ", removing:\n")
	var order []string
	byPaths := map[string][]string{}
	for _, p := range preview {
		var dirs []string
		units := 0
		for _, path := range p.Paths {
			if strings.HasPrefix(path, layout.UnitDir+"/") {
				units++
				continue
			}
			dirs = append(dirs, path)
		}
		if units > 0 {
			dirs = append(dirs, fmt.Sprintf("%d unit files in %s", units, layout.UnitDir))
		}
		if len(dirs) == 0 {
			dirs = []string{"nothing"}
		}
		key := strings.Join(dirs, "\n    ")
		if _, ok := byPaths[key]; !ok {
			order = append(order, key)
		}
		byPaths[key] = append(byPaths[key], p.Host)
	}
	for _, key := range order {
		fmt.Fprintf(&b, "  on %s:\n    %s\n", sets.Name(byPaths[key]), key)
	}
	b.WriteString("Continue?")
	return b.String()
}
