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
		Short: "Write the systemd units and templates apply would install, per host, to a directory",
		Long: `render writes DIR/<host>/<unit file> for every host: exactly the files apply
installs under /etc/systemd/system. Beside them, DIR/<host>/release/<destination>
holds each template as rendered for that host; the text of a sensitive template
is written with its secrets replaced by *** (mode 0600). It never connects to a
host.`,
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
				if hp.Empty() {
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
				for _, t := range hp.Templates {
					content, mode := t.Content, os.FileMode(0o644)
					if t.Sensitive {
						content, mode = []byte(cfg.Redact(string(t.Content))), 0o600
					}
					p := filepath.Join(dir, "release", filepath.FromSlash(t.Destination))
					if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
						return err
					}
					if err := os.WriteFile(p, content, mode); err != nil {
						return err
					}
				}
				msg := fmt.Sprintf("%s: %d unit files", hp.Host.Name, len(files))
				if n := len(hp.Templates); n > 0 {
					msg += fmt.Sprintf(" and %s", plural(n, "template"))
				}
				fmt.Fprintf(stdio.Out, "%s in %s\n", msg, dir)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&outDir, "out-dir", "o", "", "output directory (one subdirectory per host)")
	return cmd
}
