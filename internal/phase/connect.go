package phase

import (
	"context"
	"fmt"
)

// Connect opens one connection per host for the whole run. A host that
// cannot be reached is reported as unreachable and left out; the others go
// on, so one dead machine never stalls the fleet.
type Connect struct{}

// Title implements Phase.
func (Connect) Title() string { return "Connect" }

// Run implements Phase.
func (Connect) Run(ctx context.Context, r *Run) error {
	bastions := map[string]int{}
	for i, b := range r.Config.Inventory.Bastions {
		bastions[b.Name] = i
	}
	_ = eachHost(ctx, r.Hosts, r.Opts.Parallel, func(ctx context.Context, h *Host) error {
		var via = h.Config.Via
		var b = -1
		if via != "" {
			b = bastions[via]
		}
		bastion := r.Config.Inventory.Bastions
		t, err := r.Dial(ctx, h.Config, pick(bastion, b))
		if err != nil {
			h.Fail(OutcomeUnreachable, err)
			r.Out.HostError(h.Config.Name, "unreachable: %v", err)
			return nil
		}
		h.Target = t
		r.Out.Verbose("[%s] connected to %s", h.Config.Name, t)
		return nil
	})
	if len(r.Usable()) == 0 {
		return fmt.Errorf("no host could be reached")
	}
	return nil
}

func pick[T any](xs []*T, i int) *T {
	if i < 0 || i >= len(xs) {
		return nil
	}
	return xs[i]
}

// CleanUp closes every connection.
func (Connect) CleanUp(_ context.Context, r *Run) {
	for _, h := range r.Hosts {
		if h.Target != nil {
			_ = h.Target.Close()
		}
	}
}
