// The files of a new release: linked from a release on the host, uploaded,
// or uploaded once and linked again.

package plan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/openimsdk/openim-deploy/internal/layout"
)

// planNewRelease decides, for every file of the new release, whether it is
// linked from a release already on the host (same content, any name),
// uploaded, fetched by the host itself (an artifact, known by its SHA-256
// alone), or uploaded or fetched once and linked again: identical content
// crosses the network once per host.
func planNewRelease(hp *HostPlan, d Desired, a Actual) {
	// Generated files (units, secrets, templates) have their own owner and
	// mode, set by finalize: never a source of a link either, whatever
	// their bytes. Which paths were generated in an older release is known
	// by the directories generated files live in and by what the playbook
	// generates now; the host checks owner and mode again before linking.
	generatedNow := map[string]bool{}
	for _, art := range d.Artifacts {
		if art.generated() {
			generatedNow[art.Rel] = true
		}
	}
	have := map[string]string{} // sha256 -> "<release>/<path>"
	sources := sortedKeys(a.Releases)
	slices.Reverse(sources)
	sources = append([]string{a.Current}, sources...) // current first, then newest
	for _, id := range sources {
		m := a.Releases[id]
		for _, rel := range sortedKeys(m) {
			if generatedNow[rel] || strings.HasPrefix(rel, UnitsDir) || strings.HasPrefix(rel, EnvDir) || strings.HasPrefix(rel, layout.CredsDir) {
				continue
			}
			if _, ok := have[m[rel]]; !ok {
				have[m[rel]] = id + "/" + rel
			}
		}
	}
	cur := a.Releases[a.Current]
	// sha256 and mode -> path in the new release: a second name shares the
	// first one's inode, so only content with the same mode is linked.
	sentAs := map[string]string{}
	for _, art := range d.Artifacts {
		old, existed := cur[art.Rel]
		var how string
		// Generated files (units, secrets, templates) are small and have
		// their own owner and mode: always sent, never a link another
		// release's chmod or chown could reach.
		generated := art.generated()
		sent := art.SHA256 + " " + art.Mode.Perm().String()
		switch src, ok := have[art.SHA256]; {
		case art.Credential != "":
			// Encrypted on the host: a keyed hash names no file to link.
			hp.Credentials = append(hp.Credentials, art)
		case generated:
			hp.Uploads = append(hp.Uploads, art)
		case ok:
			hp.Links = append(hp.Links, Link{From: src, To: art.Rel, Mode: art.Mode.Perm()})
			how = "already on the host"
		case sentAs[sent] != "":
			hp.Dups = append(hp.Dups, Link{From: sentAs[sent], To: art.Rel, Mode: art.Mode.Perm()})
			how = "same content as " + sentAs[sent]
		case art.Fetch != nil:
			sentAs[sent] = art.Rel
			hp.Fetches = append(hp.Fetches, art)
		default:
			sentAs[sent] = art.Rel
			hp.Uploads = append(hp.Uploads, art)
		}
		if (existed && old == art.SHA256) || strings.HasPrefix(art.Rel, UnitsDir) {
			continue // unchanged, or unit text, which the unit diff shows
		}
		hp.Actions = append(hp.Actions, Action{
			Host: d.Host, Kind: KindUpload, Path: art.Rel,
			Desc:   uploadDesc(art, existed, how),
			Detail: shaDetail(art, old, existed),
		})
	}
	for _, rel := range sortedKeys(cur) {
		if _, ok := hp.Manifest[rel]; !ok && !strings.HasPrefix(rel, UnitsDir) {
			hp.Actions = append(hp.Actions, Action{Host: d.Host, Kind: KindRemove, Path: rel, Desc: "drop " + rel + " from the new release"})
		}
	}
	fetched := ""
	if len(hp.Fetches) > 0 {
		fetched = fmt.Sprintf(", %d fetched by the host", len(hp.Fetches))
	}
	if len(hp.Credentials) > 0 {
		fetched += fmt.Sprintf(", %d credential(s) encrypted on the host", len(hp.Credentials))
	}
	hp.Actions = append(hp.Actions, Action{Host: d.Host, Kind: KindRelease,
		Desc: fmt.Sprintf("new release %s (%d files sent%s, %d already on the host)", hp.Release, len(hp.Uploads), fetched, len(hp.Links)+len(hp.Dups))})
}

func uploadDesc(art Artifact, existed bool, how string) string {
	verb := "add"
	if existed {
		verb = "update"
	}
	if art.Credential != "" {
		if existed {
			return fmt.Sprintf("secret changed: %s (credential %s, encrypted on the host)", art.Rel, art.Credential)
		}
		return fmt.Sprintf("add %s (secret: credential %s, encrypted on the host)", art.Rel, art.Credential)
	}
	if art.Secret {
		return fmt.Sprintf("%s %s (secret, %s)", verb, art.Rel, modeString(art))
	}
	if how != "" {
		return fmt.Sprintf("%s %s (%s, nothing to send)", verb, art.Rel, how)
	}
	if art.Fetch != nil {
		// Its size is unknown until the host has it: the controller never does.
		return fmt.Sprintf("%s %s (fetched by the host from %s)", verb, art.Rel, art.Fetch.URL)
	}
	return fmt.Sprintf("%s %s (%s)", verb, art.Rel, humanBytes(art.Size))
}

func shaDetail(art Artifact, old string, existed bool) string {
	if art.Secret {
		return "" // even a hash of a secret helps a guesser; say nothing
	}
	if !existed {
		return "sha256 " + short(art.SHA256)
	}
	return "sha256 " + short(old) + " -> " + short(art.SHA256)
}

func modeString(art Artifact) string { return fmt.Sprintf("mode %#o", art.Mode.Perm()) }
