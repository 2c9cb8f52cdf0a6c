package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/openimsdk/openim-deploy/internal/journal"
	"github.com/openimsdk/openim-deploy/internal/phase"
	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/ui"
)

// logsOptions are the flags of logs.
type logsOptions struct {
	fleetOptions
	Follow       bool
	Lines        int
	Since, Until string
	Grep         string
}

func newLogsCommand(g *GlobalOptions, stdio IO) *cobra.Command {
	var o logsOptions
	cmd := &cobra.Command{
		Use:   "logs [SERVICE[@INSTANCE]...]",
		Short: "Show the journal of the app's units across hosts, merged in time order",
		Long: `logs reads journald on every selected host for the named tasks, services or
instances (every unit of the app when none is named) and prints one stream:
entries from all hosts merged by their timestamp, each line prefixed with
its host and instance. -n keeps the last N of the merged stream.

With -f it then follows every host at once and prints new entries as they
arrive, starting right after the last one shown, so nothing falls in
between. A host that drops out is reported and the others go on; Ctrl-C
ends it cleanly, and no journalctl is left running on any host.

--grep filters by a Go regular expression on the message, here rather than
on the hosts, so it works whatever journalctl was built with; -n counts the
entries journald returned before filtering.`,
		Example: `  openim-deploy logs -i inventory/prod.hcl openim-api
  openim-deploy logs -i inventory/prod.hcl -f openim-push@3 --limit im-2
  openim-deploy logs -i inventory/prod.hcl --since '1 hour ago' --grep 'error|panic' -n 200`,
		ValidArgsFunction: completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Follow && o.Until != "" {
				return errors.New("--until makes no sense with -f")
			}
			if o.Lines < 0 {
				return errors.New("-n must be 0 or more")
			}
			var re *regexp.Regexp
			if o.Grep != "" {
				var err error
				if re, err = regexp.Compile(o.Grep); err != nil {
					return fmt.Errorf("--grep: %w", err)
				}
			}
			r, err := loadFleet(g, stdio, o.fleetOptions)
			if err != nil {
				return err
			}
			f, err := phase.NewUnitFilter(r.Config.Playbook, args)
			if err != nil {
				return err
			}
			return runLogs(cmd.Context(), r, o, f, re)
		},
	}
	addFleetFlags(cmd, &o.fleetOptions)
	fl := cmd.Flags()
	fl.BoolVarP(&o.Follow, "follow", "f", false, "keep printing new entries until Ctrl-C")
	fl.IntVarP(&o.Lines, "lines", "n", 50, "show the last N entries of the merged stream")
	fl.StringVar(&o.Since, "since", "", `entries on or after this time, as journalctl takes it ("2026-01-02 10:00", "1 hour ago", "today")`)
	fl.StringVar(&o.Until, "until", "", "entries on or before this time")
	fl.StringVar(&o.Grep, "grep", "", "only entries whose message matches this regular expression")
	return cmd
}

// journalArgs is the journalctl command line for the units, always
// "-o json" so entries can be merged by timestamp.
func journalArgs(units []string, extra ...string) []string {
	args := []string{"journalctl", "--no-pager", "-o", "json"}
	for _, u := range units {
		args = append(args, "-u", u)
	}
	return append(args, extra...)
}

// logUnits is what the filter picks on h, as systemd unit names.
func logUnits(h *phase.Host, f phase.UnitFilter) []string {
	var units []string
	for _, p := range phase.PlacedUnits(h.Placement) {
		if f.Match(p) {
			units = append(units, p.Name)
		}
	}
	return units
}

func runLogs(ctx context.Context, r *phase.Run, o logsOptions, f phase.UnitFilter, re *regexp.Regexp) error {
	if err := (phase.Connect{}).Run(ctx, r); err != nil {
		return reported(err)
	}
	hosts := r.Usable()
	perHost := make([][]journal.Entry, len(hosts))
	cursors := make([]string, len(hosts))
	_ = phase.EachHostOf(ctx, hosts, r.Opts.Parallel, func(ctx context.Context, i int, h *phase.Host) error {
		units := logUnits(h, f)
		if len(units) == 0 {
			return nil
		}
		extra := []string{"-n", strconv.Itoa(o.Lines)}
		if o.Since != "" {
			extra = append(extra, "--since", o.Since)
		}
		if o.Until != "" {
			extra = append(extra, "--until", o.Until)
		}
		res, err := h.Target.Run(ctx, target.Cmd{Args: journalArgs(units, extra...), Sudo: true, ReadOnly: true})
		if err != nil {
			h.Fail(phase.OutcomeFailed, err)
			r.Out.HostError(h.Config.Name, "journalctl: %v", err)
			return err
		}
		_ = journal.Scan(bytesReader(res.Stdout), h.Config.Name, func(e journal.Entry) bool {
			perHost[i] = append(perHost[i], e)
			cursors[i] = e.Cursor
			return true
		})
		return nil
	})
	var shown []journal.Entry
	for _, e := range journal.Merge(perHost) {
		if re == nil || re.MatchString(e.Message) {
			shown = append(shown, e)
		}
	}
	for _, e := range journal.Tail(shown, o.Lines) {
		printEntry(r.Out, e)
	}
	if o.Follow && ctx.Err() == nil {
		followLogs(ctx, r, hosts, cursors, f, re)
	}
	return logsResult(r)
}

// followLogs streams every host's journal from just after its cursor until
// ctx ends. A stream that breaks is reported and the others go on.
func followLogs(ctx context.Context, r *phase.Run, hosts []*phase.Host, cursors []string, f phase.UnitFilter, re *regexp.Regexp) {
	var wg sync.WaitGroup
	for i, h := range hosts {
		units := logUnits(h, f)
		if !h.Usable() || len(units) == 0 {
			continue
		}
		from := []string{"-f", "-n", "0"}
		if cursors[i] != "" {
			from = []string{"-f", "--after-cursor", cursors[i]}
		}
		wg.Go(func() {
			pr, pw := io.Pipe()
			done := make(chan struct{})
			go func() {
				defer close(done)
				_ = journal.Scan(pr, h.Config.Name, func(e journal.Entry) bool {
					if re == nil || re.MatchString(e.Message) {
						printEntry(r.Out, e)
					}
					return true
				})
				_, _ = io.Copy(io.Discard, pr)
			}()
			err := h.Target.Stream(ctx, target.Cmd{Args: journalArgs(units, from...), Sudo: true, ReadOnly: true}, pw, io.Discard)
			_ = pw.Close()
			<-done
			if ctx.Err() != nil {
				return
			}
			h.Fail(phase.OutcomeFailed, err)
			if err == nil {
				err = errors.New("journalctl ended")
			}
			r.Out.HostWarn(h.Config.Name, "stopped following: %v; the other hosts go on", err)
		})
	}
	wg.Wait()
}

func printEntry(out *ui.Printer, e journal.Entry) {
	out.Event(ui.Event{Type: "log", Host: e.Host, Msg: e.Message, Fields: map[string]any{
		"unit": e.Unit, "time": e.Realtime.Format(time.RFC3339Nano), "priority": e.Priority, "pid": e.PID,
	}}, e.Format(time.Local))
}

// logsResult is the exit status of logs: unreachable hosts give 5, hosts
// whose journal could not be read 1; Ctrl-C during -f is a clean end.
func logsResult(r *phase.Run) error {
	var failed, unreachable int
	for _, h := range r.Hosts {
		switch o, _, _ := h.Result(); o {
		case phase.OutcomeFailed:
			failed++
		case phase.OutcomeUnreachable:
			unreachable++
		}
	}
	switch {
	case failed > 0:
		return reported(fmt.Errorf("the journal of %d hosts could not be read", failed))
	case unreachable > 0:
		return reported(fmt.Errorf("%d hosts unreachable: %w", unreachable, target.ErrUnreachable))
	}
	return nil
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
