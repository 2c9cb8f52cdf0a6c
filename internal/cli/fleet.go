package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/openimsdk/openim-deploy/internal/clock"
	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/phase"
	"github.com/openimsdk/openim-deploy/internal/release"
	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/ui"
)

// fleetOptions are the flags of every command that acts on hosts.
type fleetOptions struct {
	ConnectOptions
	Limit []string
}

func addFleetFlags(cmd *cobra.Command, o *fleetOptions) {
	f := cmd.Flags()
	f.BoolVar(&o.AcceptNew, "accept-new", false, "trust hosts seen for the first time and record their keys in known_hosts (a changed key is always refused)")
	f.IntVar(&o.Parallel, "parallel", 20, "hosts handled at once")
	f.StringVar(&o.SSHConfigFile, "ssh-config", "", "ssh_config file for HostName, User, Port, IdentityFile, ProxyJump (default ~/.ssh/config; \"none\" to ignore)")
	f.StringSliceVar(&o.Limit, "limit", nil, "only these hosts or groups (comma-separated)")
}

// loadFleet loads the configuration and builds the run state: what every
// command that acts on hosts starts with.
func loadFleet(g *GlobalOptions, stdio IO, o fleetOptions) (*phase.Run, error) {
	cfg, err := loadConfig(g, stdio, false)
	if err != nil {
		return nil, err
	}
	o.Counters = stdio.Counters
	return newFleetRun(cfg, o, newPrinter(g, stdio, cfg))
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
		Opts:  phase.Options{Parallel: o.Parallel, Command: strings.Join(os.Args, " "), ReleaseID: release.NewID(time.Now())},
		Dial:  sshDialer(o.ConnectOptions),
		Clock: clock.System{},
	}
	selected := map[string]bool{}
	if len(o.Limit) > 0 {
		hosts := cfg.SelectHosts(o.Limit)
		if len(hosts) == 0 {
			return nil, fmt.Errorf("--limit %s matches no host", strings.Join(o.Limit, ","))
		}
		for _, h := range hosts {
			selected[h.Name] = true
		}
	}
	for _, hp := range cfg.Placement() {
		if len(o.Limit) > 0 && !selected[hp.Host.Name] {
			continue
		}
		if len(hp.Services)+len(hp.Tasks)+len(hp.FileSets) == 0 {
			continue
		}
		r.Hosts = append(r.Hosts, &phase.Host{Config: hp.Host, Placement: hp})
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
	var unreachable, failed int
	for _, h := range r.Hosts {
		o, err, changes := h.Result()
		line := fmt.Sprintf("%-20s %-11s changed=%d", h.Config.Name, o, changes)
		if err != nil {
			line += "  " + oneLine(err.Error())
		}
		r.Out.Event(ui.Event{Type: "recap", Host: h.Config.Name, Msg: o.String(),
			Fields: map[string]any{"changed": changes, "error": errString(err)}}, line)
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
