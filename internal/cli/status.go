package cli

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/health"
	"github.com/openimsdk/openim-deploy/internal/phase"
	"github.com/openimsdk/openim-deploy/internal/release"
	"github.com/openimsdk/openim-deploy/internal/systemd"
	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/ui"
)

// ErrUnhealthy is returned by status when any instance is not healthy.
var ErrUnhealthy = errors.New("not every instance is healthy")

// statusRow is one line of the status table: one instance on one host, or
// an unreachable host.
type statusRow struct {
	Host        string        `json:"host"`
	Unit        string        `json:"unit,omitempty"`    // systemd unit
	Service     string        `json:"service,omitempty"` // playbook task or service
	Instance    string        `json:"instance,omitempty"`
	Active      string        `json:"active,omitempty"`
	Sub         string        `json:"sub,omitempty"`
	PID         int           `json:"pid"`
	Uptime      time.Duration `json:"-"`
	UptimeSecs  float64       `json:"uptime_seconds"`
	Restarts    int           `json:"restarts"`
	Health      string        `json:"health"` // ok, "-" (no probe), or why it failed
	Release     string        `json:"release,omitempty"`
	Healthy     bool          `json:"healthy"`
	Unreachable bool          `json:"unreachable,omitempty"`
	Error       string        `json:"error,omitempty"`
	short       string        // "api@0"
}

func newStatusCommand(g *GlobalOptions, stdio IO) *cobra.Command {
	var o fleetOptions
	var watch bool
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "status",
		Short: "One table of every instance on every host: state, PID, uptime, restarts, health, release",
		Long: `status connects read-only and prints one table for the fleet: for every task
and service instance the playbook places, its host, systemd's active and sub
state, main PID, uptime, how often systemd restarted it (NRestarts), the
result of its health probe run now, and the release it runs (the release
directory its process works in, which is what runs, whatever current says).

Problems come first, then the rest, then one line per service with how many
of its instances are healthy. A host that cannot be reached is a row of its
own. The exit code makes status a check for monitoring and CI: 0 when every
instance is healthy, 7 when any is not, 5 when all reachable ones are but a
host is unreachable.

--watch redraws the table in place every --interval on a terminal until
Ctrl-C. --output json prints one object per row, then one per service.`,
		Example: `  openim-deploy status -i inventory/prod.hcl
  openim-deploy status -i inventory/prod.hcl --limit 'app[0:1]' --watch
  openim-deploy status -i inventory/prod.hcl --output json | jq 'select(.healthy == false)'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if watch && (g.Output == "json" || !isTerminal(stdio.Out)) {
				return errors.New("--watch redraws a terminal; without one, run status in a loop")
			}
			r, err := loadFleet(g, stdio, o)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			_ = (phase.Connect{}).Run(ctx, r)
			color := useColor(g, stdio, stdio.Out)
			if !watch {
				rows := collectStatus(ctx, r)
				writeStatus(stdio.Out, g.Output == "json", color, r.Config.Playbook, rows)
				return statusResult(rows)
			}
			for {
				rows := collectStatus(ctx, r)
				if ctx.Err() != nil {
					return nil // Ctrl-C ends a watch cleanly
				}
				var buf bytes.Buffer
				buf.WriteString("\x1b[H\x1b[2J")
				fmt.Fprintf(&buf, "every %s, %s  (Ctrl-C to stop)\n\n", interval, time.Now().Format("15:04:05"))
				writeStatus(&buf, false, color, r.Config.Playbook, rows)
				_, _ = stdio.Out.Write(buf.Bytes())
				t := time.NewTimer(interval)
				select {
				case <-ctx.Done():
					t.Stop()
					return nil
				case <-t.C:
				}
			}
		},
	}
	addFleetFlags(cmd, &o)
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "redraw the table in place until Ctrl-C (terminal only)")
	cmd.Flags().DurationVar(&interval, "interval", 2*time.Second, "how often --watch redraws")
	return cmd
}

// collectStatus gathers every row, hosts in parallel, rows in inventory
// then playbook order.
func collectStatus(ctx context.Context, r *phase.Run) []statusRow {
	perHost := make([][]statusRow, len(r.Hosts))
	_ = phase.EachHostOf(ctx, r.Hosts, r.Opts.Parallel, func(ctx context.Context, i int, h *phase.Host) error {
		perHost[i] = hostStatus(ctx, r.Config, h)
		return nil
	})
	return slices.Concat(perHost...)
}

// hostStatus is the rows of one host.
func hostStatus(ctx context.Context, cfg *config.Config, h *phase.Host) []statusRow {
	name := h.Config.Name
	if o, err, _ := h.Result(); o == phase.OutcomeUnreachable || h.Target == nil {
		return []statusRow{{Host: name, Unreachable: true, Active: "unreachable", Health: "-", Error: oneLine(errString(err))}}
	}
	units := phase.PlacedUnits(h.Placement)
	ro := target.ReadOnly(h.Target)
	states, err := systemd.Show(ctx, ro, unitNamesOf(units)...)
	if err != nil {
		return []statusRow{{Host: name, Active: "error", Health: "-", Error: oneLine(err.Error()), Unreachable: errors.Is(err, target.ErrUnreachable)}}
	}
	rows := make([]statusRow, len(units))
	var pids []int
	for i, p := range units {
		st := states[i]
		rows[i] = statusRow{Host: name, Unit: p.Name, Service: p.Unit, Instance: p.Instance, short: p.Short(),
			Active: st.ActiveState, Sub: st.SubState, PID: st.MainPID, Restarts: st.NRestarts, Health: "-", Release: "-"}
		if st.MainPID > 0 {
			pids = append(pids, st.MainPID)
		}
	}
	uptime, realRoot, cwds := processFacts(ctx, ro, cfg.Playbook.App.Root, pids)
	for i := range rows {
		row, st := &rows[i], states[i]
		if st.MainPID > 0 {
			if cwd, ok := cwds[st.MainPID]; ok {
				row.Release = releaseShown(realRoot, cwd)
			}
			if uptime > 0 && st.ExecMainStart > 0 && uptime >= st.ExecMainStart {
				row.Uptime = (uptime - st.ExecMainStart).Round(time.Second)
				row.UptimeSecs = row.Uptime.Seconds()
			}
		}
		if !st.Loaded() {
			row.Active, row.Sub = "not-installed", st.LoadState
		}
	}
	probeAll(ctx, h.Target, units, states, rows)
	return rows
}

func unitNamesOf(ps []phase.PlacedUnit) []string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return names
}

// processScript is what status reads of a host besides systemd's view:
// its uptime, the app root resolved, and each main process's working
// directory resolved (see the script's header).
//
//go:embed scripts/process.sh
var processScript string

// processFacts returns the host's uptime, the app root resolved, and each
// PID's resolved working directory, in one round trip. sudo is needed to
// read another user's /proc/PID/cwd. Failures leave the columns empty
// rather than failing status.
func processFacts(ctx context.Context, t target.Target, root string, pids []int) (time.Duration, string, map[int]string) {
	args := []string{"sh", "-c", processScript, "sh", root}
	for _, p := range pids {
		args = append(args, strconv.Itoa(p))
	}
	res, err := t.Run(ctx, target.Cmd{Args: args, Sudo: true, ReadOnly: true})
	cwds := map[int]string{}
	if err != nil {
		return 0, root, cwds
	}
	lines := strings.Split(strings.TrimRight(string(res.Stdout), "\n"), "\n")
	var uptime time.Duration
	if f := strings.Fields(lines[0]); len(f) > 0 {
		if secs, err := strconv.ParseFloat(f[0], 64); err == nil {
			uptime = time.Duration(secs * float64(time.Second))
		}
	}
	realRoot := root
	if len(lines) > 1 && lines[1] != "-" && lines[1] != "" {
		realRoot = lines[1]
	}
	for _, l := range lines[min(2, len(lines)):] {
		pid, cwd, ok := strings.Cut(l, " ")
		if n, err := strconv.Atoi(pid); ok && err == nil && cwd != "-" {
			cwds[n] = cwd
		}
	}
	return uptime, realRoot, cwds
}

// releaseShown is the release column for a process's working directory:
// its release id, or "?" for a directory that is not one of ours.
func releaseShown(realRoot, cwd string) string {
	if id := release.ReleaseOf(realRoot, cwd); id != "" {
		return id
	}
	return "?"
}

// probeConcurrency bounds health probes in flight per host.
const probeConcurrency = 8

// probeAll runs each running service's health probe once, now, and decides
// every row's health.
func probeAll(ctx context.Context, t target.Target, units []phase.PlacedUnit, states []systemd.UnitState, rows []statusRow) {
	sem := make(chan struct{}, probeConcurrency)
	var wg sync.WaitGroup
	for i, p := range units {
		st, row := states[i], &rows[i]
		if p.Task {
			row.Healthy = st.Active() && st.Loaded()
			continue
		}
		running := st.Active() && st.SubState == "running"
		probe := health.FromConfig(t, p.Health)
		if !running || probe == nil {
			row.Healthy = running
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			pctx, cancel := context.WithTimeout(ctx, health.PolicyFor(p.Health).Timeout)
			defer cancel()
			if err := probe(pctx); err != nil {
				row.Health = oneLine(err.Error())
				return
			}
			row.Health, row.Healthy = "ok", true
		})
	}
	wg.Wait()
}

// writeStatus prints the table: problems first, then the rest, then one
// summary line per service, or the same as JSON lines.
func writeStatus(w io.Writer, asJSON, color bool, pb *config.Playbook, rows []statusRow) {
	ordered := make([]statusRow, 0, len(rows))
	for _, pass := range []bool{false, true} {
		for _, row := range rows {
			if row.Healthy == pass {
				ordered = append(ordered, row)
			}
		}
	}
	sums := summarize(pb, rows)
	if asJSON {
		for _, row := range ordered {
			_ = writeJSONLine(w, struct {
				Type string `json:"type"`
				statusRow
			}{"status", row})
		}
		for _, s := range sums {
			_ = writeJSONLine(w, map[string]any{"type": "summary", "service": s.name, "healthy": s.healthy, "total": s.total})
		}
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tINSTANCE\tSTATE\tPID\tUPTIME\tRESTARTS\tHEALTH\tRELEASE")
	for _, row := range ordered {
		state := row.Active
		if row.Sub != "" {
			state += "/" + row.Sub
		}
		inst, pid, up, health := orDash(row.short), "-", "-", row.Health
		if row.PID > 0 {
			pid = strconv.Itoa(row.PID)
		}
		if row.Uptime > 0 {
			up = row.Uptime.String()
		}
		if row.Error != "" {
			health = row.Error
		}
		// What a host reports is escaped: this table goes to a terminal.
		state, health = ui.EscapeLine(state), ui.EscapeLine(health)
		if !row.Healthy {
			state = paint(color, "31", state)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", row.Host, inst, state, pid, up, row.Restarts, health, ui.EscapeLine(orDash(row.Release)))
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, s := range sums {
		fmt.Fprintf(tw, "%s\t%d/%d healthy\n", s.name, s.healthy, s.total)
	}
	_ = tw.Flush()
}

type serviceSummary struct {
	name           string
	healthy, total int
}

// summarize counts healthy instances per playbook unit, in playbook order.
func summarize(pb *config.Playbook, rows []statusRow) []serviceSummary {
	var out []serviceSummary
	for _, name := range pb.UnitNames() {
		s := serviceSummary{name: name}
		for _, row := range rows {
			if row.Service == name {
				s.total++
				if row.Healthy {
					s.healthy++
				}
			}
		}
		if s.total > 0 {
			out = append(out, s)
		}
	}
	return out
}

// statusResult is status's exit: unhealthy beats unreachable.
func statusResult(rows []statusRow) error {
	var bad, unreachable, total int
	for _, row := range rows {
		if row.Unit != "" {
			total++
		}
		switch {
		case row.Unreachable:
			unreachable++
		case !row.Healthy:
			bad++
		}
	}
	switch {
	case bad > 0:
		return fmt.Errorf("%w: %d of %d", ErrUnhealthy, bad, total)
	case unreachable > 0:
		return fmt.Errorf("%d hosts unreachable: %w", unreachable, target.ErrUnreachable)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func paint(color bool, code, s string) string {
	if !color {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}
