// What the tool installed that the playbook no longer places.

package plan

import "strings"

// planOrphans finds what the tool installed that the playbook no longer
// places on the host: units of removed services or tasks, instances beyond
// a lowered count, drop-ins of those. Only files the tool marked as its own
// (Actual.Owned) are candidates; anything else under the unit directory is
// never touched.
func planOrphans(hp *HostPlan, d Desired, a Actual) {
	wantFiles := map[string]bool{}
	wantUnits := map[string]bool{d.Target: true}
	templates := map[string]bool{}
	for _, uf := range d.UnitFiles {
		wantFiles[uf.Name] = true
	}
	for _, u := range d.Units {
		for _, n := range u.Names {
			wantUnits[n] = true
			wantFiles[dropInPath(n)] = true
		}
	}
	stop := map[string]bool{}
	for _, rel := range a.Owned {
		if wantFiles[rel] {
			continue
		}
		hp.OrphanFiles = append(hp.OrphanFiles, rel)
		switch name := strings.TrimSuffix(rel, dropInSuffix); {
		case name != rel:
			stop[name] = true
		case strings.HasSuffix(rel, "@.service"):
			templates[strings.TrimSuffix(rel, ".service")] = true
		case strings.HasSuffix(rel, ".service"), strings.HasSuffix(rel, ".target"):
			stop[rel] = true // a target is an orphan only where nothing is placed
		}
	}
	owned := map[string]bool{}
	for _, rel := range a.Owned {
		owned[rel] = true
	}
	for _, w := range a.Wants {
		if wantUnits[w] {
			continue
		}
		tmpl, _, isInstance := strings.Cut(w, "@")
		if owned[w] || owned[dropInPath(w)] || (isInstance && (owned[tmpl+"@.service"] || templates[tmpl+"@"])) {
			stop[w] = true
		}
	}
	hp.Orphans = sortedKeys(stop)
	for _, u := range hp.Orphans {
		hp.Actions = append(hp.Actions, Action{Host: d.Host, Kind: KindOrphan, Unit: u,
			Desc: "stop, disable and remove " + u + " (no longer placed on this host)"})
	}
	for _, f := range hp.OrphanFiles {
		hp.Actions = append(hp.Actions, Action{Host: d.Host, Kind: KindOrphan, Path: f,
			Desc: "remove " + f + " (no longer placed on this host)"})
	}
}
