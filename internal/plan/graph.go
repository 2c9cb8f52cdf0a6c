package plan

import "slices"

// Graph is the playbook's dependency graph: the waves units start in (a
// unit starts only after everything it depends on passed its gate) and
// what each unit depends on, to hold back the dependents of a failure.
// Built once per run; every plan and the executor ask it.
type Graph struct {
	waves     [][]string
	wave      map[string]int
	dependsOn map[string][]string
	order     []string
}

// NewGraph makes a graph of waves (pb.Waves(): units by wave, playbook
// order within one) and dependsOn (each unit's depends_on).
func NewGraph(waves [][]string, dependsOn map[string][]string) Graph {
	g := Graph{waves: waves, wave: map[string]int{}, dependsOn: dependsOn}
	for i, w := range waves {
		for _, u := range w {
			g.wave[u] = i
			g.order = append(g.order, u)
		}
	}
	return g
}

// Waves is how many waves there are.
func (g Graph) Waves() int { return len(g.waves) }

// WaveOf is the wave of unit (0 for a unit the graph does not know).
func (g Graph) WaveOf(unit string) int { return g.wave[unit] }

// Blocked returns the units that depend, directly or not, on a unit in
// failed: they must not start as if their dependency were healthy.
func (g Graph) Blocked(failed map[string]bool) map[string]bool {
	blocked := map[string]bool{}
	// Waves are in dependency order, so one pass in wave order sees every
	// dependency before its dependents; the loop covers cycles, which
	// waves break arbitrarily.
	for changed := true; changed; {
		changed = false
		for _, u := range g.order {
			if blocked[u] {
				continue
			}
			if slices.ContainsFunc(g.dependsOn[u], func(dep string) bool { return failed[dep] || blocked[dep] }) {
				blocked[u], changed = true, true
			}
		}
	}
	return blocked
}
