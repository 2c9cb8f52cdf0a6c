// Why an instance or task must (re)start: the files a unit reads and how
// they differ between releases.

package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// serviceReason says what an instance needs and why: to start, to
// restart, to be re-pinned without a restart because the release it runs
// is identical for this unit (the reason then explains the pin), or
// nothing (reason "").
func serviceReason(u UnitRef, st UnitState, a Actual, want string, wantM map[string]string) (need, string) {
	switch {
	case !st.Active && st.StartLimitHit:
		return needStart, "failed: start limit hit, systemd stopped restarting it (reset-failed, then start)"
	case !st.Active && st.Failed:
		return needStart, "failed"
	case !st.Active:
		return needStart, "not running"
	case st.Release == want:
		return needNothing, ""
	case st.Release == "":
		return needRestart, "runs no release of this app (started outside openim-deploy or before releases were pinned)"
	}
	m, ok := a.Releases[st.Release]
	if !ok {
		return needRestart, fmt.Sprintf("runs release %s, which is no longer on the host; wants %s", st.Release, want)
	}
	changed := changedUses(u.Uses, m, wantM)
	if changed == "" {
		return needRePin, "runs release " + st.Release + ", identical for this unit"
	}
	return needRestart, fmt.Sprintf("runs release %s, wants %s: %s", st.Release, want, changed)
}

// taskReason says whether a task must run again (needStart) and why, or
// needNothing with reason "".
func taskReason(u UnitRef, st UnitState, a Actual, want string, wantM map[string]string) (need, string) {
	switch {
	case !st.Active && st.Failed:
		return needStart, "failed"
	case !st.Active:
		return needStart, "not run yet"
	}
	rec := a.TaskRuns[u.Unit]
	ran, fp, _ := strings.Cut(rec, " ")
	switch {
	case rec == "":
		return needStart, "no record of a successful run"
	case fp == fingerprint(u.Uses, wantM):
		return needNothing, ""
	}
	if m, ok := a.Releases[ran]; ok {
		if changed := changedUses(u.Uses, m, wantM); changed != "" {
			return needStart, fmt.Sprintf("ran with release %s, wants %s: %s", ran, want, changed)
		}
	}
	return needStart, fmt.Sprintf("ran with release %s, wants %s", ran, want)
}

// fingerprint is the part of manifest m a unit reads, as text: equal
// fingerprints mean the unit would run the same bytes.
func fingerprint(uses []string, m map[string]string) string {
	var b strings.Builder
	for _, rel := range usedPaths(uses, m) {
		fmt.Fprintf(&b, "%s=%s;", rel, m[rel])
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:16])
}

// usedPaths lists the paths of m a unit reads, sorted.
func usedPaths(uses []string, m map[string]string) []string {
	var out []string
	for _, rel := range sortedKeys(m) {
		for _, use := range uses {
			if rel == use || (strings.HasSuffix(use, "/") && strings.HasPrefix(rel, use)) {
				out = append(out, rel)
				break
			}
		}
	}
	return out
}

// SameUses reports whether two manifests agree on every path a unit with
// uses reads: the unit would run the same bytes from either release.
func SameUses(uses []string, a, b map[string]string) bool {
	return changedUses(uses, a, b) == ""
}

// changedUses names the paths a unit reads that differ between the
// release it runs and the wanted one ("" when none does), at most three,
// with a count of the rest.
func changedUses(uses []string, running, want map[string]string) string {
	paths := usedPaths(uses, running)
	for _, rel := range usedPaths(uses, want) {
		if !slices.Contains(paths, rel) {
			paths = append(paths, rel)
		}
	}
	slices.Sort(paths)
	var why []string
	for _, rel := range paths {
		old, had := running[rel]
		cur, has := want[rel]
		switch {
		case had && has && old == cur:
			continue
		case !had:
			why = append(why, rel+" added")
		case !has:
			why = append(why, rel+" removed")
		default:
			why = append(why, rel+" changed")
		}
	}
	if len(why) > 3 {
		return fmt.Sprintf("%s and %d more", strings.Join(why[:3], ", "), len(why)-3)
	}
	return strings.Join(why, ", ")
}
