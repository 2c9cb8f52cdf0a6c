package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/openimsdk/openim-deploy/internal/phase"
	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/ui"
)

// execOptions are exec's own flags.
type execOptions struct {
	fleetOptions
	Sudo    bool
	Stream  bool
	Timeout time.Duration
}

// execResult is what one host's command did.
type execResult struct {
	ran    bool
	code   int
	output string // stdout then stderr, for grouping
	err    error  // a transport failure or timeout, not a non-zero exit
}

func newExecCommand(g *GlobalOptions, stdio IO) *cobra.Command {
	var o execOptions
	cmd := &cobra.Command{
		Use:   "exec [flags] -- COMMAND [ARG...]",
		Short: "Run an ad-hoc command on many hosts at once",
		Long: `exec runs COMMAND with its arguments on every selected inventory host (hosts
with nothing placed on them too), at most --parallel at a time. The words
are passed as they are, quoted for the remote shell: for pipes or globs run
"sh -c '...'" explicitly.

Output is grouped per host once all are done, hosts whose output and exit
status are identical folded into one group (--no-fold lists each), or with
--stream printed as it arrives, each line prefixed with its host. A recap
gives every host's exit status. The exit code is 0 when every host exited 0,
1 when any command failed, and 5 when only unreachable hosts spoiled it.`,
		Example: `  openim-deploy exec -i inventory/prod.hcl -- uname -r
  openim-deploy exec -i inventory/prod.hcl --limit 'app,!im-3' --sudo -- systemctl is-system-running
  openim-deploy exec -i inventory/prod.hcl --stream -- sh -c 'df -h / | tail -1'`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return errors.New("exec needs a command: openim-deploy exec [flags] -- COMMAND [ARG...]")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.AllHosts = true
			r, err := loadFleet(g, stdio, o.fleetOptions)
			if err != nil {
				return err
			}
			return runExec(cmd.Context(), r, o, args, g.NoFold)
		},
	}
	addFleetFlags(cmd, &o.fleetOptions)
	f := cmd.Flags()
	f.BoolVar(&o.Sudo, "sudo", false, "run through sudo -n when the login user is not root")
	f.BoolVar(&o.Stream, "stream", false, "print output as it arrives, each line prefixed with its host")
	f.DurationVar(&o.Timeout, "timeout", 0, "give up on a host's command after this long (0: no limit)")
	return cmd
}

func runExec(ctx context.Context, r *phase.Run, o execOptions, argv []string, noFold bool) error {
	results := make([]execResult, len(r.Hosts))
	index := map[*phase.Host]int{}
	for i, h := range r.Hosts {
		index[h] = i
	}
	run := phase.Func("Run "+target.QuoteArgs(argv), func(ctx context.Context, r *phase.Run) error {
		_ = r.EachHost(ctx, func(ctx context.Context, h *phase.Host) error {
			if o.Timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, o.Timeout)
				defer cancel()
			}
			results[index[h]] = execOn(ctx, r.Out, h, target.Cmd{Args: argv, Sudo: o.Sudo}, o.Stream)
			return nil
		})
		return nil
	})
	err := phase.Runner{Phases: []phase.Phase{phase.Connect{}, run}}.Execute(ctx, r)
	if !o.Stream {
		printGrouped(r, results, noFold)
	}
	return execRecap(r, results, err)
}

// execOn runs cmd on one host, buffered or streamed.
func execOn(ctx context.Context, out *ui.Printer, h *phase.Host, cmd target.Cmd, stream bool) execResult {
	res := execResult{ran: true}
	var err error
	if stream {
		w := &linePrinter{out: out, host: h.Config.Name}
		err = h.Target.Stream(ctx, cmd, w, w)
		w.flush()
	} else {
		var rr target.Result
		rr, err = h.Target.Run(ctx, cmd)
		res.output = string(rr.Stdout) + string(rr.Stderr)
	}
	var ee *target.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.code = ee.Code
	default:
		res.code, res.err = -1, err
	}
	return res
}

// printGrouped prints each distinct (output, exit status) once, naming the
// hosts that produced it, in order of the first host with it.
func printGrouped(r *phase.Run, results []execResult, noFold bool) {
	type group struct {
		hosts []string
		res   execResult
	}
	var groups []*group
	for i, h := range r.Hosts {
		res := results[i]
		if !res.ran || res.err != nil {
			continue
		}
		var gr *group
		for _, g := range groups {
			if !noFold && g.res.output == res.output && g.res.code == res.code {
				gr = g
			}
		}
		if gr == nil {
			gr = &group{res: res}
			groups = append(groups, gr)
		}
		gr.hosts = append(gr.hosts, h.Config.Name)
	}
	sets := hostSets(r)
	for _, gr := range groups {
		name := sets.Name(gr.hosts)
		title := fmt.Sprintf("%s (exit %d)", name, gr.res.code)
		r.Out.Output(ui.Event{Type: "output", Host: strings.Join(gr.hosts, ","), Msg: title,
			Fields: map[string]any{"hosts": gr.hosts, "exit": gr.res.code, "output": gr.res.output}},
			ui.OutputHeaderPrefix+title, gr.res.output)
	}
}

// execRecap prints each host's exit status and decides the exit code.
func execRecap(r *phase.Run, results []execResult, runErr error) error {
	r.Out.Phase("Recap")
	var failed, unreachable int
	for i, h := range r.Hosts {
		o, herr, _ := h.Result()
		res := results[i]
		status := fmt.Sprintf("exit=%d", res.code)
		switch {
		case o == phase.OutcomeUnreachable:
			status = "unreachable"
			unreachable++
		case res.err != nil:
			status = "failed: " + oneLine(res.err.Error())
			failed++
		case !res.ran:
			status = "not run"
			if herr != nil {
				status += ": " + oneLine(herr.Error())
			}
			failed++
		case res.code != 0:
			failed++
		}
		r.Out.Event(ui.Event{Type: "recap", Host: h.Config.Name, Msg: status,
			Fields: map[string]any{"exit": res.code}}, fmt.Sprintf("%-20s %s", h.Config.Name, status))
	}
	switch {
	case runErr != nil && !errors.Is(runErr, target.ErrUnreachable):
		return reported(runErr)
	case failed > 0:
		return reported(fmt.Errorf("the command failed on %d hosts", failed))
	case unreachable > 0:
		return reported(fmt.Errorf("%d hosts unreachable: %w", unreachable, target.ErrUnreachable))
	}
	return nil
}

// linePrinter turns a stream of bytes into whole lines printed with the
// host's prefix. Stdout and stderr of one host share it, so it locks.
type linePrinter struct {
	mu   sync.Mutex
	out  *ui.Printer
	host string
	buf  bytes.Buffer
}

func (w *linePrinter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			w.buf.Reset()
			w.buf.WriteString(line) // incomplete: keep for the next write
			return len(p), nil
		}
		w.print(strings.TrimSuffix(line, "\n"))
	}
}

func (w *linePrinter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf.Len() > 0 {
		w.print(w.buf.String())
		w.buf.Reset()
	}
}

func (w *linePrinter) print(line string) {
	w.out.Event(ui.Event{Type: "output", Host: w.host, Msg: line}, "["+w.host+"] "+line)
}
