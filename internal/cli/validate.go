package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/unit"
)

func newValidateCommand(g *GlobalOptions, stdio IO) *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Check the inventory and playbook and print where every instance lands",
		Long: `validate parses the inventory and playbook, reports every problem as
file:line:col with the source line, and prints the placement: which instances
of which service land on which host. It never connects to a host.`,
		Example: `  openim-deploy validate -i inventory/prod.hcl
  openim-deploy validate -i inventory/prod.hcl -p playbooks/openim.hcl --diagnostics short`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(g, stdio, false)
			if err != nil {
				return err
			}
			printPlacement(stdio.Out, cfg)
			return nil
		},
	}
}

// printPlacement lists, per host in inventory order, the units placed on it.
func printPlacement(w io.Writer, cfg *config.Config) {
	fmt.Fprintf(w, "configuration is valid: %s, %s, %s\n", plural(len(cfg.Inventory.Hosts), "host"),
		plural(len(cfg.Playbook.Services), "service"), plural(len(cfg.Playbook.Tasks), "task"))
	for _, hp := range cfg.Placement() {
		fmt.Fprintf(w, "\n%s (%s)\n", hp.Host.Name, hp.Host.Address)
		if len(hp.Tasks)+len(hp.Services) == 0 {
			fmt.Fprintln(w, "  (nothing placed)")
			continue
		}
		for _, t := range hp.Tasks {
			fmt.Fprintf(w, "  task    %s\n", unit.TaskUnitName(t.Name))
		}
		for _, s := range hp.Services {
			names := make([]string, len(s.Instances))
			for i, in := range s.Instances {
				names[i] = in.Name
			}
			fmt.Fprintf(w, "  service %s instances %s\n", unit.TemplateName(s.Name), strings.Join(names, ","))
		}
		for _, fs := range hp.FileSets {
			fmt.Fprintf(w, "  files   %s\n", fs.Name)
		}
	}
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
