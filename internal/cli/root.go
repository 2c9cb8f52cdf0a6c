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
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/openimsdk/openim-deploy/internal/clock"
	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/target/remote"
	"github.com/openimsdk/openim-deploy/internal/ui"
)

// IO is where a command reads and writes; tests substitute buffers.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
	Environ  []string
	// Interrupts, when set, lets commands that restart processes stop at a
	// settled point on the first Ctrl-C.
	Interrupts *Interrupts
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
	Verbose     int    // -v: more detail; -vv: also every remote command
	Quiet       bool   // -q: only warnings, errors and the recap
	NoColor     bool
	NoFold      bool // one line per host instead of folding identical ones

	// log is this run's debug log; never nil once Run has started.
	log *debugLog
	// subcommand is the command cobra resolved ("apply", "releases
	// list"), set before any command runs: what a host's lease records.
	subcommand string
}

// Main runs the command line and returns the process exit code.
func Main() int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	intr := newInterrupts()
	done := make(chan struct{})
	defer close(done)
	go intr.watch(done, sigs, cancel, os.Stderr, os.Exit)
	stdio := IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, Environ: os.Environ(), Interrupts: intr}
	return Run(ctx, os.Args[1:], stdio)
}

// Interrupts turns Ctrl-C into a two-stage stop for commands that restart
// processes: the first signal asks the run to stop once the current step
// has settled (a rollout batch passed or failed its gate), the second
// cancels it at once. Other commands stop at the first signal.
type Interrupts struct {
	first chan struct{}
	soft  atomic.Bool
}

func newInterrupts() *Interrupts { return &Interrupts{first: make(chan struct{})} }

// First is closed at the first signal.
func (i *Interrupts) First() <-chan struct{} {
	if i == nil {
		return nil
	}
	return i.first
}

// Soften makes the first signal a request to stop at a settled point.
func (i *Interrupts) Soften() {
	if i != nil {
		i.soft.Store(true)
	}
}

// watch handles signals until done is closed (the command returned): the
// first asks a soft stop (or cancels, for commands without one), the next
// cancels the run's context, and every further one exits at once with 130,
// so a run stuck past its cancellation (an auto-rollback finishing its
// instance, a host that does not answer) is never left for SIGKILL.
func (i *Interrupts) watch(done <-chan struct{}, sigs <-chan os.Signal, cancel context.CancelFunc, w io.Writer, exit func(int)) {
	cancelled := false
	for n := 0; ; n++ {
		select {
		case <-done:
			return
		case <-sigs:
		}
		switch {
		case n == 0 && i.soft.Load():
			close(i.first)
			fmt.Fprintln(w, "interrupt: stopping once the current step settles; press Ctrl-C again to stop at once")
		case !cancelled:
			cancelled = true
			cancel()
			if n > 0 {
				fmt.Fprintln(w, "interrupt: stopping now (an auto-rollback stops between instances); press Ctrl-C again to exit at once")
			}
		default:
			fmt.Fprintln(w, "interrupt: exiting now; a host mid-step is left as it is (its lock expires with its lease)")
			exit(ExitInterrupted)
			return
		}
	}
}

// Run executes args (without the program name) and returns the exit code.
func Run(ctx context.Context, args []string, stdio IO) int {
	g := &GlobalOptions{log: discardLog()}
	if wantsDebugLog(args) {
		g.log = openDebugLog(stdio.Environ, redactVarArgs(args), time.Now())
	}
	root := newRootCommand(g, stdio)
	root.SetArgs(terraformStyleFlags(args))
	err := root.ExecuteContext(ctx)
	if err != nil && !errors.Is(err, ErrChanges) {
		var cfgErr *configError
		if !errors.As(err, &cfgErr) && !errors.Is(err, errReported) {
			// An error may carry a host's stderr: escaped for the terminal.
			fmt.Fprintln(stdio.Err, "error:", ui.EscapeLines(err.Error()))
		}
		g.log.Logger.Error("failed", "err", redactVarsIn(err.Error(), args))
	}
	code := exitCode(err)
	g.log.Close(code)
	if code != ExitOK && code != ExitChanges && g.log.Path != "" {
		fmt.Fprintln(stdio.Err, "debug log:", g.log.Path)
	}
	return code
}

// wantsDebugLog is false for what a shell or a human runs many times a
// minute and that touches no host: completion, help and version.
func wantsDebugLog(args []string) bool {
	for _, a := range args {
		switch a {
		case "-h", "--help", "--version":
			return false
		}
	}
	if len(args) == 0 {
		return false
	}
	switch args[0] {
	case "__complete", "__completeNoDesc", "completion", "help", "version", "validate", "render", "secrets":
		return false
	}
	return true
}

// redactVarArgs hides the values of -var flags, which may be secrets, from
// the debug log.
func redactVarArgs(args []string) []string {
	out := make([]string, len(args))
	hideNext := false
	for i, a := range args {
		switch {
		case hideNext:
			name, _, _ := strings.Cut(a, "=")
			a, hideNext = name+"=***", false
		case a == "-var" || a == "--var":
			hideNext = true
		case strings.HasPrefix(a, "-var=") || strings.HasPrefix(a, "--var="):
			flag, kv, _ := strings.Cut(a, "=")
			name, _, _ := strings.Cut(kv, "=")
			a = flag + "=" + name + "=***"
		}
		out[i] = a
	}
	return out
}

// redactVarsIn hides -var values in an error message before it is logged.
func redactVarsIn(msg string, args []string) string {
	hideNext := false
	for _, a := range args {
		kv := ""
		switch {
		case hideNext:
			kv, hideNext = a, false
		case a == "-var" || a == "--var":
			hideNext = true
		case strings.HasPrefix(a, "-var=") || strings.HasPrefix(a, "--var="):
			_, kv, _ = strings.Cut(a, "=")
		}
		if _, v, ok := strings.Cut(kv, "="); ok && v != "" {
			msg = strings.ReplaceAll(msg, v, "***")
		}
	}
	return msg
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

func newRootCommand(g *GlobalOptions, stdio IO) *cobra.Command {
	root := &cobra.Command{
		Use:   "openim-deploy",
		Short: "Deploy multi-process servers to Linux hosts under systemd, over SSH alone",
		Long: `openim-deploy pushes binaries, configuration and generated systemd units to a
fleet over SSH, starts them in dependency order and checks every instance is
healthy before it moves on. Nothing is installed on the hosts but what you deploy.

Exit codes, the same for every command:
  0    success (status: every instance healthy)
  1    an error: a failed command, host or health gate, or a usage mistake
  2    plan --detailed-exitcode: the plan has changes
  3    the inventory or playbook is invalid; nothing was contacted
  4    another run holds a host's lock
  5    a host could not be reached; the others were handled
  6    a host was refused: it failed pre-flight, or a file the app did not write is in the way
  7    status: an instance is not healthy
  130  interrupted (Ctrl-C)`,
		Example: `  openim-deploy validate -i inventory/prod.hcl
  openim-deploy plan -i inventory/prod.hcl --detailed-exitcode
  openim-deploy apply -i inventory/prod.hcl -var bin_dir=./_output/bin`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version(),
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			g.subcommand = subcommandName(cmd)
			if g.Quiet && g.Verbose > 0 {
				return errors.New("-q and -v contradict each other")
			}
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
	pf.CountVarP(&g.Verbose, "verbose", "v", "print more detail; -vv also prints every remote command (secrets redacted)")
	pf.BoolVarP(&g.Quiet, "quiet", "q", false, "print only warnings, errors and the recap")
	pf.BoolVar(&g.NoColor, "no-color", false, "never colour output (NO_COLOR is honoured too)")
	pf.BoolVar(&g.NoFold, "no-fold", false, "one line per host, instead of one line naming every host that printed the same")

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
		newLogsCommand(g, stdio),
		newStartCommand(g, stdio),
		newStopCommand(g, stdio),
		newExecCommand(g, stdio),
		newUninstallCommand(g, stdio),
		newSecretsCommand(stdio),
		newVersionCommand(stdio),
	)
	return root
}

// subcommandName is cmd's path below the root ("apply", "releases list"),
// taken from the command table, not from the arguments: flags may precede
// the subcommand ("-var pw=S apply"), so the first word that is not a flag
// may be a value, and a secret.
func subcommandName(cmd *cobra.Command) string {
	var names []string
	for c := cmd; c != nil && c.HasParent(); c = c.Parent() {
		names = append([]string{c.Name()}, names...)
	}
	return strings.Join(names, " ")
}

// noSecretCommands never build or compare a release, so they need no secret
// values: the playbook's secret commands (vault kv get, pass) are not run
// for them, and reading the fleet's state never asks a vault (or for a
// login). Every other command that reads the playbook runs the ones it
// refers to.
var noSecretCommands = map[string]bool{"status": true, "logs": true, "stop": true, "unlock": true, "uninstall": true}

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
	opts := config.LoadOptions{
		InventoryPath: inv,
		PlaybookPath:  g.Playbook,
		Vars:          vars,
		VarFiles:      g.VarFiles,
		Environ:       stdio.Environ,
		SkipPlaybook:  skipPlaybook,
	}
	if !noSecretCommands[g.subcommand] {
		opts.SecretRunner = config.ExecSecret
	}
	cfg, diags := config.Load(opts)
	if len(diags) > 0 {
		files := map[string]*hcl.File{}
		if cfg != nil {
			files = cfg.Files
		}
		if diagFiles, ok := filesFromDiags(diags); ok && len(files) == 0 {
			files = diagFiles
			for _, p := range g.VarFiles { // secrets: never shown as snippets
				delete(files, p)
			}
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
	opts := ui.Options{JSON: g.Output == "json", Verbose: g.Verbose > 0, Quiet: g.Quiet,
		Color: useColor(g, stdio, stdio.Out), Log: g.log.Logger}
	if cfg != nil {
		opts.Redact = cfg.Redact
	}
	opts.Terminal, opts.Width = statusTerminal(g, stdio)
	opts.Clock = clock.System{}
	return ui.New(stdio.Out, opts)
}

// statusTerminal says whether long steps may show a status line redrawn in
// place on stdout, and the terminal's width. Not with -vv: the remote
// commands it prints go to stderr, the same screen, and would break into
// the line; nor on a terminal that cannot move the cursor (TERM=dumb).
func statusTerminal(g *GlobalOptions, stdio IO) (bool, int) {
	f, ok := stdio.Out.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) || g.Verbose > 1 || lookupEnv(stdio.Environ, "TERM") == "dumb" {
		return false, 0
	}
	width, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		width = 0
	}
	return true, width
}

func useColor(g *GlobalOptions, stdio IO, w io.Writer) bool {
	if g.NoColor || lookupEnv(stdio.Environ, "NO_COLOR") != "" {
		return false
	}
	return isTerminal(w)
}

func isTerminal(w any) bool {
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
