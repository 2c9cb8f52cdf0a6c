package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/openimsdk/openim-deploy/internal/unit"
)

func newRenderCommand(g *GlobalOptions, stdio IO) *cobra.Command {
	var outDir string
	cmd := &cobra.Command{
		Use:   "render -o DIR",
		Short: "Write the systemd units apply would install, per host, to a directory",
		Long: `render writes DIR/<host>/<unit file> for every host: exactly the files apply
installs under /etc/systemd/system. It never connects to a host.`,
		Example: `  openim-deploy render -i inventory/prod.hcl -o ./rendered
  systemd-analyze verify ./rendered/im-1/*.service`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if outDir == "" {
				return fmt.Errorf("render needs -o DIR")
			}
			cfg, err := loadConfig(g, stdio, false)
			if err != nil {
				return err
			}
			for _, hp := range cfg.Placement() {
				if len(hp.Services)+len(hp.Tasks)+len(hp.FileSets) == 0 {
					continue // apply skips such hosts, so there is nothing to install
				}
				files, err := unit.Render(cfg.Playbook.App, hp)
				if err != nil {
					return fmt.Errorf("render units for %s: %w", hp.Host.Name, err)
				}
				dir := filepath.Join(outDir, hp.Host.Name)
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return err
				}
				for _, f := range files {
					if err := os.WriteFile(filepath.Join(dir, f.Name), f.Content, 0o644); err != nil {
						return err
					}
				}
				fmt.Fprintf(stdio.Out, "%s: %d unit files in %s\n", hp.Host.Name, len(files), dir)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&outDir, "out-dir", "o", "", "output directory (one subdirectory per host)")
	return cmd
}
