// Moving a host's secrets from plain files to encrypted credentials: the
// releases that still hold them in plain text go, and so do the processes
// that run from them.

package plan

import (
	"fmt"
	"strings"
)

// DeliversCredentials reports whether d takes its secrets as systemd
// credentials (Artifact.Credential).
func (d Desired) DeliversCredentials() bool {
	for _, a := range d.Artifacts {
		if a.Credential != "" {
			return true
		}
	}
	return false
}

// holdsPlainSecrets reports whether a release with manifest m keeps a
// secret of d's host in plain text: an environment file (EnvDir) or a
// path that file delivery writes a sensitive template to
// (Desired.PlainSecrets).
func holdsPlainSecrets(m map[string]string, d Desired) bool {
	for rel := range m {
		if strings.HasPrefix(rel, EnvDir) {
			return true
		}
	}
	for _, rel := range d.PlainSecrets {
		if _, ok := m[rel]; ok {
			return true
		}
	}
	return false
}

// plainSecretReleases lists, under credential delivery, the releases on
// the host that keep its secrets in plain text (holdsPlainSecrets); nil
// under file delivery, which retires nothing.
func plainSecretReleases(d Desired, a Actual) map[string]bool {
	if !d.DeliversCredentials() {
		return nil
	}
	var plain map[string]bool
	for id, m := range a.Releases {
		if holdsPlainSecrets(m, d) {
			if plain == nil {
				plain = map[string]bool{}
			}
			plain[id] = true
		}
	}
	return plain
}

// planRetire lists, when the host moves to a new current, every other
// release that still holds its secrets in plain text (plain): switch
// removes them whatever keep_releases says (unless a drop-in still pins
// one), so no plain copy outlives the move to credentials in a release
// kept for rollback. Rollback to them is then no longer possible; the
// plan says so.
func planRetire(hp *HostPlan, d Desired, plain map[string]bool) {
	if !hp.SwitchCurrent {
		return
	}
	for _, id := range sortedKeys(plain) {
		if id != hp.Release {
			hp.Retire = append(hp.Retire, id)
		}
	}
	if len(hp.Retire) == 0 {
		return
	}
	hp.Actions = append(hp.Actions, Action{Host: d.Host, Kind: KindCurrent,
		Desc: fmt.Sprintf("remove release(s) %s with current's move: they hold secrets in plain text, now encrypted credentials (no rollback to them)",
			strings.Join(hp.Retire, ", "))})
}
