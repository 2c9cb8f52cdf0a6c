package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/openimsdk/openim-deploy/internal/clock"
	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/phase"
	"github.com/openimsdk/openim-deploy/internal/release"
	"github.com/openimsdk/openim-deploy/internal/selector"
	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/ui"
)

// defaultLockTTL is the host lock's lease length unless apply's --lock-ttl
// says otherwise; the lease is refreshed every third of it while a run lasts.
const defaultLockTTL = 30 * time.Second

// fleetOptions are the flags of every command that acts on hosts.
type fleetOptions struct {
	ConnectOptions
	Limit []string
	// LimitGiven: --limit was on the command line, even with an empty
	// value (an unset shell variable), which is refused, never "every host".
	LimitGiven bool
	Strict     bool // pre-flight warnings refuse hosts
	// AllHosts keeps hosts with nothing placed on them (exec works on any
	// inventory host); other commands only act where the playbook runs.
	AllHosts bool
	// EveryHost keeps hosts with nothing placed on them as bystanders:
	// apply, plan and uninstall visit them to stop and remove what the tool
	// installed there earlier, and skip (not fail) one they cannot check.
	EveryHost bool
}

func addFleetFlags(cmd *cobra.Command, o *fleetOptions) {
	f := cmd.Flags()
	f.BoolVar(&o.AcceptNew, "accept-new", false, "trust hosts seen for the first time and record their keys in known_hosts (a changed key is always refused)")
	f.IntVar(&o.Parallel, "parallel", 20, "hosts handled at once")
	f.StringVar(&o.SSHConfigFile, "ssh-config", "", "ssh_config file for HostName, User, Port, IdentityFile, ProxyJump (default ~/.ssh/config; \"none\" to ignore)")
	f.VarP(limitFlag{&o.Limit, &o.LimitGiven}, "limit", "l", "only these hosts: names, groups, globs (im-*), GROUP[N], GROUP[A:B], !exclusions, &intersections, comma-separated")
	_ = cmd.RegisterFlagCompletionFunc("limit", completeLimit)
	f.BoolVar(&o.Strict, "strict", false, "refuse hosts with pre-flight warnings too (duplicate machine-id, clock skew under a minute, low nofile ceiling)")
}

// loadFleet loads the configuration and builds the run state: what every
// command that acts on hosts starts with.
func loadFleet(g *GlobalOptions, stdio IO, o fleetOptions) (*phase.Run, error) {
	cfg, err := loadConfig(g, stdio, o.AllHosts)
	if err != nil {
		return nil, err
	}
	o.Counters = stdio.Counters
	r, err := newFleetRun(cfg, o, newPrinter(g, stdio, cfg))
	if err != nil {
		return nil, err
	}
	r.Opts.Command = g.subcommand
	if !g.NoFold {
		r.Out.SetFold(hostSets(r))
	}
	r.Dial = loggedDialer(r.Dial, remoteLogger(g, stdio), cfg.Redact)
	return r, nil
}

// hostSets describes the run's hosts and their groups, for folded output.
func hostSets(r *phase.Run) *ui.HostSets {
	var order []string
	var groups []ui.Group
	at := map[string]int{}
	for _, h := range r.Hosts {
		order = append(order, h.Config.Name)
		for _, g := range h.Config.Groups {
			i, ok := at[g]
			if !ok {
				i = len(groups)
				at[g] = i
				groups = append(groups, ui.Group{Name: g})
			}
			groups[i].Hosts = append(groups[i].Hosts, h.Config.Name)
		}
	}
	return ui.NewHostSets(order, groups)
}

// remoteLogger is where every remote command is logged: the debug log, and
// with -vv stderr too.
func remoteLogger(g *GlobalOptions, stdio IO) *slog.Logger {
	if g.Verbose < 2 {
		return g.log.Logger
	}
	opts := &slog.HandlerOptions{Level: slog.LevelDebug}
	return slog.New(teeHandler{g.log.Logger.Handler(), slog.NewTextHandler(stdio.Err, opts)})
}

// loggedDialer wraps every target the dialer returns in target.Logged.
func loggedDialer(dial phase.Dialer, log *slog.Logger, redact func(string) string) phase.Dialer {
	return func(ctx context.Context, h *config.Host, b *config.Bastion) (target.Target, error) {
		t, err := dial(ctx, h, b)
		if err != nil {
			return nil, err
		}
		return target.Logged(t, log, redact), nil
	}
}

// teeHandler sends every record to two handlers.
type teeHandler struct{ a, b slog.Handler }

func (t teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return t.a.Enabled(ctx, l) || t.b.Enabled(ctx, l)
}

func (t teeHandler) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	for _, h := range []slog.Handler{t.a, t.b} {
		if h.Enabled(ctx, r.Level) {
			errs = append(errs, h.Handle(ctx, r.Clone()))
		}
	}
	return errors.Join(errs...)
}

func (t teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return teeHandler{t.a.WithAttrs(as), t.b.WithAttrs(as)}
}

func (t teeHandler) WithGroup(name string) slog.Handler {
	return teeHandler{t.a.WithGroup(name), t.b.WithGroup(name)}
}

// newFleetRun builds the run state: the hosts that have something placed on
// them (narrowed by --limit), in inventory order.
func newFleetRun(cfg *config.Config, o fleetOptions, out *ui.Printer) (*phase.Run, error) {
	if o.Parallel < 1 {
		return nil, errors.New("--parallel must be at least 1")
	}
	r := &phase.Run{
		Config: cfg,
		Out:    out,
		// The id a new release gets on any host that needs one; plan shows
		// it, apply uses it.
		Opts: phase.Options{Parallel: o.Parallel,
			Strict: o.Strict, ReleaseID: release.NewID(time.Now()), LockTTL: defaultLockTTL},
		Dial:  sshDialer(o.ConnectOptions),
		Clock: clock.System{},
	}
	selected, err := limitHosts(cfg, o.Limit, o.LimitGiven)
	if err != nil {
		return nil, err
	}
	for _, hp := range cfg.Placement() {
		if selected != nil && !selected[hp.Host.Name] {
			continue
		}
		if !o.AllHosts && !o.EveryHost && hp.Empty() {
			continue
		}
		r.Hosts = append(r.Hosts, &phase.Host{Config: hp.Host, Placement: hp, Bystander: o.EveryHost && hp.Empty()})
	}
	if len(r.Hosts) == 0 {
		return nil, errors.New("nothing is placed on any selected host")
	}
	return r, nil
}

// recap prints one line per host, Ansible's PLAY RECAP style, and returns
// the error that decides the exit code.
func recap(r *phase.Run, started time.Time, runErr error) error {
	r.Out.Phase("Recap")
	var unreachable, failed, foreign int
	for _, h := range r.Hosts {
		o, err, changes := h.Result()
		if o == phase.OutcomeFailed && errors.Is(err, release.ErrForeignFile) {
			foreign++
		}
		line := fmt.Sprintf("%-20s %-11s changed=%d", h.Config.Name, o, changes)
		// A host that converged runs the wanted release (instances whose
		// files are identical in an older one keep running it, pinned).
		rel := ""
		if h.Plan != nil && err == nil && runErr == nil && h.Plan.Release != "" {
			rel = h.Plan.Release
			line += " release=" + rel
		}
		if err != nil {
			line += "  " + oneLine(err.Error())
		}
		r.Out.Event(ui.Event{Type: "recap", Host: h.Config.Name, Msg: o.String(),
			Fields: map[string]any{"changed": changes, "error": errString(err), "release": rel}}, line)
		switch o {
		case phase.OutcomeUnreachable:
			unreachable++
		case phase.OutcomeFailed:
			failed++
		}
	}
	r.Out.Info("took %s", time.Since(started).Round(100*time.Millisecond))
	if runErr != nil {
		r.Out.Error("%s", firstLine(runErr.Error()))
	}
	switch {
	case runErr != nil && (failed > 0 || unreachable == 0):
		return reported(runErr)
	case failed > 0 && foreign == failed:
		// Refused, not failed: a file of someone else's was in the way
		// and was left alone (exit 6, as a pre-flight refusal); the other
		// hosts were handled.
		return reported(fmt.Errorf("%d hosts refused: %w", failed, release.ErrForeignFile))
	case failed > 0:
		return reported(fmt.Errorf("%d hosts failed", failed))
	case unreachable > 0:
		return reported(fmt.Errorf("%d hosts unreachable: %w", unreachable, target.ErrUnreachable))
	}
	return nil
}

// oneLine folds a multi-line error into one recap line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// runPhases executes the phases and then the recap.
func runPhases(ctx context.Context, r *phase.Run, phases []phase.Phase) error {
	started := time.Now()
	err := phase.Runner{Phases: phases}.Execute(ctx, r)
	return recap(r, started, err)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// limitFlag is --limit: every value given, kept as given (the selector
// splits on commas), and whether the flag was given at all.
type limitFlag struct {
	patterns *[]string
	given    *bool
}

func (l limitFlag) String() string {
	if l.patterns == nil {
		return ""
	}
	return strings.Join(*l.patterns, ",")
}

func (l limitFlag) Set(v string) error {
	*l.given = true
	*l.patterns = append(*l.patterns, v)
	return nil
}

func (l limitFlag) Type() string { return "strings" }

// limitHosts resolves --limit to the set of host names it selects, or nil
// when there is no limit.
func limitHosts(cfg *config.Config, limit []string, given bool) (map[string]bool, error) {
	if given && strings.TrimSpace(strings.Trim(strings.Join(limit, ","), ", \t")) == "" {
		return nil, usageErrorf("--limit %q names no host: an empty --limit would mean every host (an unset variable in a script?); name hosts or groups, or leave --limit out", strings.Join(limit, ","))
	}
	if len(limit) == 0 {
		return nil, nil
	}
	hosts := make([]selector.Host, len(cfg.Inventory.Hosts))
	for i, h := range cfg.Inventory.Hosts {
		hosts[i] = selector.Host{Name: h.Name, Groups: h.Groups}
	}
	picked, err := selector.Select(hosts, strings.Join(limit, ","))
	if err != nil {
		return nil, usageErrorf("--limit: %v", err)
	}
	selected := make(map[string]bool, len(picked))
	for _, h := range picked {
		selected[h.Name] = true
	}
	return selected, nil
}
