package phase

import (
	"context"
	"fmt"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/target"
)

// Connect opens one connection per host for the whole run. A host that
// cannot be reached is reported as unreachable and left out; the others go
// on, so one dead machine never stalls the fleet. The commands that read
// the hosts connect in ReadHosts instead, each host as it is read.
type Connect struct{}

// Title implements Phase.
func (Connect) Title() string { return "Connect" }

// Run implements Phase.
func (Connect) Run(ctx context.Context, r *Run) error {
	bastions := r.bastions()
	_ = eachHost(ctx, r.Hosts, r.Opts.Parallel, func(ctx context.Context, h *Host) error {
		r.connect(ctx, h, bastions)
		return nil
	})
	return r.someReached()
}

// bastions are the inventory's bastions by name.
func (r *Run) bastions() map[string]*config.Bastion {
	bastions := map[string]*config.Bastion{}
	for _, b := range r.Config.Inventory.Bastions {
		bastions[b.Name] = b
	}
	return bastions
}

// connect dials h and reports whether it is connected. A host that
// cannot be reached fails as unreachable (a bystander is skipped) and is
// said so.
func (r *Run) connect(ctx context.Context, h *Host, bastions map[string]*config.Bastion) bool {
	t, err := r.Dial(ctx, h.Config, bastions[h.Config.Via]) // nil when Via is ""
	if err != nil {
		h.Fail(OutcomeUnreachable, err)
		if h.Bystander {
			r.warnSkipped(h, "unreachable: %v", err)
		} else {
			r.Out.HostError(h.Config.Name, "unreachable: %v", err)
		}
		return false
	}
	h.Target = t
	// The transport resolved the login user (inventory, then
	// ssh_config, then root): record it so every later decision
	// (sudo, file ownership) is about the user actually logged in as.
	if u, ok := t.(interface{ User() string }); ok && u.User() != "" {
		h.Config.User = u.User()
	}
	r.Out.Verbose("[%s] connected to %s", h.Config.Name, t)
	return true
}

// someReached fails the run when no host is connected.
func (r *Run) someReached() error {
	for _, h := range r.Hosts {
		if h.Target != nil {
			return nil
		}
	}
	return fmt.Errorf("no host could be reached: %w", target.ErrUnreachable)
}

// CleanUp closes every connection.
func (Connect) CleanUp(_ context.Context, r *Run) {
	for _, h := range r.Hosts {
		if h.Target != nil {
			_ = h.Target.Close()
		}
	}
}
