package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/unit"
)

func newRenderCommand(g *GlobalOptions, stdio IO) *cobra.Command {
	var outDir string
	var showSensitive bool
	cmd := &cobra.Command{
		Use:   "render -o DIR",
		Short: "Write the systemd units and templates apply would install, per host, to a directory",
		Long: `render writes DIR/<host>/<unit file> for every host: exactly the files apply
installs under /etc/systemd/system. Beside them, DIR/<host>/release/<destination>
holds each template as rendered for that host. A sensitive template is not
written: no redaction can find every value derived from a secret (upper(),
jsonencode(), a substring), so its text is either withheld or, with
--show-sensitive, written whole, mode 0600 in a 0700 directory. It never
connects to a host.`,
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
				written, withheld, err := writeTemplates(dir, hp.Templates, showSensitive)
				if err != nil {
					return err
				}
				msg := fmt.Sprintf("%s: %d unit files", hp.Host.Name, len(files))
				if written > 0 {
					msg += fmt.Sprintf(" and %s", plural(written, "template"))
				}
				fmt.Fprintf(stdio.Out, "%s in %s\n", msg, dir)
				for _, name := range withheld {
					fmt.Fprintf(stdio.Out, "%s: sensitive template %s not written (--show-sensitive writes it)\n", hp.Host.Name, name)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&outDir, "out-dir", "o", "", "output directory (one subdirectory per host)")
	cmd.Flags().BoolVar(&showSensitive, "show-sensitive", false, "also write sensitive templates, secrets in clear (mode 0600)")
	return cmd
}

// writeTemplates writes each template under dir/release and returns how
// many it wrote and the names of the sensitive ones it withheld. A
// sensitive template, written only with show, goes in a directory only
// its owner can enter, mode 0600, so no other user of the machine reads
// the secrets in it.
func writeTemplates(dir string, templates []*config.Template, show bool) (int, []string, error) {
	written := 0
	var withheld []string
	for _, t := range templates {
		dirMode, mode := os.FileMode(0o755), os.FileMode(0o644)
		if t.Sensitive {
			if !show {
				withheld = append(withheld, t.Name)
				continue
			}
			dirMode, mode = 0o700, 0o600
		}
		p := filepath.Join(dir, "release", filepath.FromSlash(t.Destination))
		if err := os.MkdirAll(filepath.Dir(p), dirMode); err != nil {
			return written, withheld, err
		}
		if err := writeFileMode(p, t.Content, mode); err != nil {
			return written, withheld, err
		}
		written++
	}
	return written, withheld, nil
}

// writeFileMode writes content to p with exactly mode, set before any
// byte is written: os.WriteFile keeps the mode of a file that already
// exists, which an earlier run may have left readable.
func writeFileMode(p string, content []byte, mode os.FileMode) error {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil {
		_ = f.Close()
		return err
	}
	if _, err := f.Write(content); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
