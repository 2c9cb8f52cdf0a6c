// Package cli is the openim-deploy command line: one file per subcommand,
// each an Options struct plus a run function, and the single place where
// errors become exit codes and diagnostics become text.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/target/remote"
	"github.com/openimsdk/openim-deploy/internal/ui"
)

// IO is where a command reads and writes; tests substitute buffers.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
	Environ  []string
	// Counters, when set, tallies every host's SSH connections, sessions
	// and bytes sent: a hook for benchmarks, nil in normal use.
	Counters *remote.Counters
}

// GlobalOptions are the flags every subcommand shares.
type GlobalOptions struct {
	Inventory   string
	Playbook    string
	Vars        []string
	VarFiles    []string
	Output      string // text or json
	Diagnostics string // auto, long or short
	Verbose     bool
	NoColor     bool
}

// Main runs the command line and returns the process exit code.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stdio := IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, Environ: os.Environ()}
	return Run(ctx, os.Args[1:], stdio)
}

// Run executes args (without the program name) and returns the exit code.
func Run(ctx context.Context, args []string, stdio IO) int {
	root := newRootCommand(stdio)
	root.SetArgs(terraformStyleFlags(args))
	err := root.ExecuteContext(ctx)
	if err != nil && !errors.Is(err, ErrChanges) {
		var cfgErr *configError
		if !errors.As(err, &cfgErr) && !errors.Is(err, errReported) {
			fmt.Fprintln(stdio.Err, "error:", err)
		}
	}
	return exitCode(err)
}

// errReported marks an error whose details the command already printed.
var errReported = errors.New("reported")

// reported wraps err so Run does not print it a second time.
func reported(err error) error { return fmt.Errorf("%w%w", errReported, err) }

// terraformStyleFlags accepts -var and -var-file as Terraform users type
// them; pflag only knows the double-dash spelling.
func terraformStyleFlags(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		switch {
		case a == "-var" || strings.HasPrefix(a, "-var="):
			a = "-" + a
		case a == "-var-file" || strings.HasPrefix(a, "-var-file="):
			a = "-" + a
		}
		out[i] = a
	}
	return out
}

func newRootCommand(stdio IO) *cobra.Command {
	g := &GlobalOptions{}
	root := &cobra.Command{
		Use:   "openim-deploy",
		Short: "Deploy multi-process servers to Linux hosts under systemd, over SSH alone",
		Long: `openim-deploy pushes binaries, configuration and generated systemd units to a
fleet over SSH, starts them in dependency order and checks every instance is
healthy before it moves on. Nothing is installed on the hosts but what you deploy.`,
		Example: `  openim-deploy validate -i inventory/prod.hcl
  openim-deploy plan -i inventory/prod.hcl --detailed-exitcode
  openim-deploy apply -i inventory/prod.hcl -var bin_dir=./_output/bin`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version(),
		PersistentPreRunE: func(*cobra.Command, []string) error {
			if g.Output != "text" && g.Output != "json" {
				return fmt.Errorf("--output %q: want text or json", g.Output)
			}
			switch g.Diagnostics {
			case "auto", "long", "short":
				return nil
			}
			return fmt.Errorf("--diagnostics %q: want auto, long or short", g.Diagnostics)
		},
	}
	root.SetIn(stdio.In)
	root.SetOut(stdio.Out)
	root.SetErr(stdio.Err)
	pf := root.PersistentFlags()
	pf.StringVarP(&g.Inventory, "inventory", "i", "", "inventory file (HCL); also $OPENIM_DEPLOY_INVENTORY")
	pf.StringVarP(&g.Playbook, "playbook", "p", "", "playbook file (HCL); defaults to the inventory's playbook")
	pf.StringArrayVar(&g.Vars, "var", nil, "set a playbook variable, name=value (repeatable; -var works too)")
	pf.StringArrayVar(&g.VarFiles, "var-file", nil, "load playbook variables from an HCL file (repeatable)")
	pf.StringVar(&g.Output, "output", "text", "output format: text or json (one event per line)")
	pf.StringVar(&g.Diagnostics, "diagnostics", "auto", "diagnostic format: auto, long (source snippets) or short (file:line:col)")
	pf.BoolVarP(&g.Verbose, "verbose", "v", false, "print more detail")
	pf.BoolVar(&g.NoColor, "no-color", false, "never colour output (NO_COLOR is honoured too)")

	root.AddCommand(
		newValidateCommand(g, stdio),
		newRenderCommand(g, stdio),
		newPreflightCommand(g, stdio),
		newPlanCommand(g, stdio),
		newApplyCommand(g, stdio),
		newRestartCommand(g, stdio),
		newRollbackCommand(g, stdio),
		newReleasesCommand(g, stdio),
		newUnlockCommand(g, stdio),
		newStatusCommand(g, stdio),
		newVersionCommand(stdio),
	)
	return root
}

// loadConfig loads and validates the configuration and prints diagnostics.
// Warnings are printed and do not fail; errors return a *configError.
func loadConfig(g *GlobalOptions, stdio IO, skipPlaybook bool) (*config.Config, error) {
	inv := g.Inventory
	if inv == "" {
		inv = lookupEnv(stdio.Environ, "OPENIM_DEPLOY_INVENTORY")
	}
	if inv == "" {
		return nil, errors.New("no inventory: pass -i FILE or set OPENIM_DEPLOY_INVENTORY")
	}
	vars := map[string]string{}
	for _, kv := range g.Vars {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("-var %q: want name=value", kv)
		}
		vars[name] = value
	}
	cfg, diags := config.Load(config.LoadOptions{
		InventoryPath: inv,
		PlaybookPath:  g.Playbook,
		Vars:          vars,
		VarFiles:      g.VarFiles,
		Environ:       stdio.Environ,
		SkipPlaybook:  skipPlaybook,
	})
	if len(diags) > 0 {
		files := map[string]*hcl.File{}
		if cfg != nil {
			files = cfg.Files
		}
		if diagFiles, ok := filesFromDiags(diags); ok && len(files) == 0 {
			files = diagFiles
		}
		short := g.Diagnostics == "short" || (g.Diagnostics == "auto" && !isTerminal(stdio.Err))
		var buf strings.Builder
		_ = writeDiagnostics(&buf, files, diags, short, useColor(g, stdio, stdio.Err), 0)
		text := buf.String()
		if cfg != nil {
			text = cfg.Redact(text) // defence in depth: no secret reaches stderr
		}
		_, _ = io.WriteString(stdio.Err, text)
	}
	if diags.HasErrors() {
		return nil, &configError{diags: diags}
	}
	return cfg, nil
}

func newPrinter(g *GlobalOptions, stdio IO, cfg *config.Config) *ui.Printer {
	opts := ui.Options{JSON: g.Output == "json", Verbose: g.Verbose, Color: useColor(g, stdio, stdio.Out)}
	if cfg != nil {
		opts.Redact = cfg.Redact
	}
	return ui.New(stdio.Out, opts)
}

func useColor(g *GlobalOptions, stdio IO, w io.Writer) bool {
	if g.NoColor || lookupEnv(stdio.Environ, "NO_COLOR") != "" {
		return false
	}
	return isTerminal(w)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func lookupEnv(environ []string, name string) string {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}
