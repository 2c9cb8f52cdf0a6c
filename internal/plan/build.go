// Build, the entry point that plans one host, and the choice of its release.

package plan

import (
	"fmt"
	"slices"
)

// Build plans one host. waveOf gives the dependency wave of a playbook
// unit; newID is the id a new release gets if one is needed.
func Build(d Desired, a Actual, waveOf func(unit string) int, newID string) *HostPlan {
	if !d.Placed() {
		return buildUnplaced(d, a)
	}
	hp := &HostPlan{Host: d.Host, PreviousRelease: a.Current, Manifest: map[string]string{}}
	for _, art := range d.Artifacts {
		hp.Manifest[art.Rel] = art.SHA256
	}
	hp.Release = pickRelease(hp.Manifest, a)
	if hp.Release == "" {
		hp.Release, hp.NewRelease = newID, true
		planNewRelease(hp, d, a)
	} else if hp.Release != a.Current {
		hp.Actions = append(hp.Actions, Action{Host: d.Host, Kind: KindRelease,
			Desc: fmt.Sprintf("use release %s, already on the host with the wanted files", hp.Release)})
	}
	if a.Partials > 0 && !hp.NewRelease {
		hp.CleanPartials = true
		hp.Actions = append(hp.Actions, Action{Host: d.Host, Kind: KindClean,
			Desc: fmt.Sprintf("remove %d partial release(s) left by an interrupted run", a.Partials)})
	}
	planUnitFiles(hp, d, a)
	plain := plainSecretReleases(d, a)
	planInstances(hp, d, a, waveOf, plain)
	planReload(hp, d, a)
	planEnable(hp, d, a)
	hp.appendStartActions()
	planOrphans(hp, d, a)
	if hp.Release != a.Current {
		hp.SwitchCurrent = true
		hp.Actions = append(hp.Actions, Action{Host: d.Host, Kind: KindCurrent,
			Desc: "point current at release " + hp.Release + " once every instance runs it"})
	}
	hp.Protect = Protected(a)
	planRetire(hp, d, plain)
	if !a.Units[d.Target].Active {
		hp.StartTarget = true
		hp.Actions = append(hp.Actions, Action{Host: d.Host, Kind: KindStart, Unit: d.Target,
			Desc: "start " + d.Target + " (after every wave)"})
	}
	hp.NewUnits = newUnits(hp, d, a)
	return hp
}

// buildUnplaced plans a host the playbook places nothing on any more: every
// unit the tool installed there for the app (the target included) is
// stopped, disabled and removed, as any orphan. Releases and current stay:
// they are data until uninstall --purge, and a later placement reuses
// them. On a host the app never reached there is nothing to do.
func buildUnplaced(d Desired, a Actual) *HostPlan {
	hp := &HostPlan{Host: d.Host, PreviousRelease: a.Current, Release: a.Current, Manifest: map[string]string{}}
	planOrphans(hp, Desired{Host: d.Host}, a)
	hp.Protect = Protected(a)
	return hp
}

// pickRelease returns a release already on the host whose files are
// exactly the wanted ones: current if it qualifies, else the newest. Reusing
// one means an apply interrupted after its upload sends nothing again.
func pickRelease(want map[string]string, a Actual) string {
	if m, ok := a.Releases[a.Current]; ok && sameFiles(m, want) {
		return a.Current
	}
	ids := sortedKeys(a.Releases)
	for _, id := range slices.Backward(ids) {
		if sameFiles(a.Releases[id], want) {
			return id
		}
	}
	return ""
}

func sameFiles(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
