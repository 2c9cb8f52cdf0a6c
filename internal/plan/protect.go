// The releases pruning must keep.

package plan

import "strings"

// Protected lists the releases pruning must keep whatever keep_releases
// says: current, every one a process still runs or a task last ran with,
// and every one a drop-in pins. A stopped instance (held back by an
// unreachable dependency, or stopped by hand) runs nothing, but its
// drop-in still names the release its next start or a boot will chdir
// into.
func Protected(a Actual) []string {
	keep := map[string]bool{}
	if a.Current != "" {
		keep[a.Current] = true
	}
	for _, st := range a.Units {
		if st.Release != "" {
			keep[st.Release] = true
		}
	}
	for _, rec := range a.TaskRuns {
		if id, _, _ := strings.Cut(rec, " "); id != "" {
			keep[id] = true
		}
	}
	for name, text := range a.UnitFiles {
		if strings.HasSuffix(name, dropInSuffix) {
			if id := PinnedRelease(text); id != "" {
				keep[id] = true
			}
		}
	}
	return sortedKeys(keep)
}
