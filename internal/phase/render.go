package phase

import (
	"context"
	"fmt"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/plan"
)

// Render builds, once per run and before any host is contacted, what the
// playbook wants on every host (release files hashed, unit files rendered)
// and the dependency graph every plan and the executor use. It reads only
// the controller's files, so a missing binary or a template that does not
// render stops the run before a connection is opened.
type Render struct{}

// Title implements Phase.
func (Render) Title() string { return "Render" }

// Run implements Phase.
func (Render) Run(ctx context.Context, r *Run) error {
	local := NewLocalFiles()
	r.local = local
	err := eachHost(ctx, r.Hosts, r.Opts.Parallel, func(_ context.Context, h *Host) error {
		d, err := BuildDesired(r.Config, h.Placement, local)
		if err != nil {
			h.Fail(OutcomeFailed, err)
			r.Out.HostError(h.Config.Name, "%v", err)
			return err
		}
		h.Desired = d
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w: no host was contacted", err)
	}
	return nil
}

// graphOf is pb's dependency graph.
func graphOf(pb *config.Playbook) plan.Graph {
	deps := map[string][]string{}
	for _, name := range pb.UnitNames() {
		u, _ := pb.UnitByName(name)
		deps[name] = u.DependsOn
	}
	return plan.NewGraph(pb.Waves(), deps)
}
