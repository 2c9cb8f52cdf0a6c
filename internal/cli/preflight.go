package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/openimsdk/openim-deploy/internal/phase"
	"github.com/openimsdk/openim-deploy/internal/ui"
)

func newPreflightCommand(g *GlobalOptions, stdio IO) *cobra.Command {
	var o fleetOptions
	cmd := &cobra.Command{
		Use:   "preflight",
		Short: "Gather facts from every host and check it can run the playbook",
		Long: `preflight connects to every host (read-only), detects the OS, kernel,
architecture, init system and systemd version, and checks the host against
the playbook: binary architecture, free disk under the app root, free memory,
sudo, the SFTP subsystem, ports held by other processes, clock skew,
machine-id uniqueness and the nofile limit. apply runs the same checks first.`,
		Example: `  openim-deploy preflight -i inventory/prod.hcl
  openim-deploy preflight -i inventory/prod.hcl --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := loadFleet(g, stdio, o)
			if err != nil {
				return err
			}
			started := time.Now()
			runErr := phase.Runner{Phases: []phase.Phase{phase.Render{}, phase.ReadHosts{Facts: true, SFTP: true}, phase.Preflight{}}}.Execute(cmd.Context(), r)
			if g.Output == "json" {
				writeFactsJSON(stdio, r)
			} else {
				writeFactsTable(stdio, r)
			}
			if runErr != nil {
				return recap(r, started, fmt.Errorf("%w: %w", ErrPreflight, runErr))
			}
			return recap(r, started, nil)
		},
	}
	addFleetFlags(cmd, &o)
	return cmd
}

func writeFactsTable(stdio IO, r *phase.Run) {
	tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tOS\tKERNEL\tARCH\tINIT\tSYSTEMD\tMEM FREE\tDISK FREE\tRESULT")
	for _, h := range r.Hosts {
		o, _, _ := h.Result()
		result := "ok"
		if o >= phase.OutcomeFailed {
			result = o.String()
			if o == phase.OutcomeFailed {
				result = "refused"
			}
		}
		f := h.Facts
		if h.Target == nil {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t-\t-\t%s\n", h.Config.Name, result)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", h.Config.Name, ui.EscapeLine(f.OS.PrettyName), ui.EscapeLine(f.Kernel), ui.EscapeLine(f.Arch),
			f.Init, f.SystemdVersion, gib(f.MemAvailable), gib(f.DiskAvailable), result)
	}
	_ = tw.Flush()
}

func gib(n int64) string { return fmt.Sprintf("%.1fG", float64(n)/(1<<30)) }

func writeFactsJSON(stdio IO, r *phase.Run) {
	enc := json.NewEncoder(stdio.Out)
	for _, h := range r.Hosts {
		o, err, _ := h.Result()
		_ = enc.Encode(map[string]any{"type": "facts", "host": h.Config.Name, "result": o.String(),
			"error": errString(err), "facts": h.Facts})
	}
}

func writeJSONLine(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }
