package plan

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const apiURL = "https://mirror.example/openim/v3.8.3/openim-api"

// fetched returns desired() with bin/openim-api an artifact the host
// fetches itself, with SHA-256 sha: the controller knows its hash only.
func fetched(sha string) Desired {
	d := desired()
	for i := range d.Artifacts {
		if d.Artifacts[i].Rel == "bin/openim-api" {
			d.Artifacts[i] = Artifact{Rel: "bin/openim-api", SHA256: sha, Mode: 0o755,
				Fetch: &Fetch{URL: apiURL, Header: "Authorization: Bearer hunter2"}}
		}
	}
	return d
}

func actionFor(hp *HostPlan, path string) (Action, bool) {
	for _, a := range hp.Actions {
		if a.Path == path {
			return a, true
		}
	}
	return Action{}, false
}

// On a cold host an artifact is fetched by the host: it is in Fetches, not
// Uploads, counts no bytes to send, and its line names the URL instead of
// a size; the manifest holds its SHA-256 like any file's, and the header
// appears in no line of the plan.
func TestBuild_ArtifactIsFetchedByTheHost(t *testing.T) {
	d := fetched("f1")
	hp := build(d, Actual{Units: map[string]UnitState{}})
	require.True(t, hp.NewRelease)
	require.Len(t, hp.Fetches, 1)
	require.Equal(t, "bin/openim-api", hp.Fetches[0].Rel)
	require.Equal(t, apiURL, hp.Fetches[0].Fetch.URL)
	for _, u := range hp.Uploads {
		require.NotEqual(t, "bin/openim-api", u.Rel, "the controller sends none of its bytes")
	}
	require.Equal(t, int64(10+200+5+7+6+4+5), hp.BytesToSend(), "every file but the fetched one")
	require.Equal(t, "f1", hp.Manifest["bin/openim-api"])
	act, ok := actionFor(hp, "bin/openim-api")
	require.True(t, ok)
	require.Equal(t, "add bin/openim-api (fetched by the host from "+apiURL+")", act.Desc)
	require.Equal(t, "sha256 f1", act.Detail)
	var release string
	for _, a := range hp.Actions {
		require.NotContains(t, a.Desc+a.Detail, "hunter2")
		if a.Kind == KindRelease {
			release = a.Desc
		}
	}
	require.Equal(t, "new release "+new+" (7 files sent, 1 fetched by the host, 0 already on the host)", release)
}

// The hash is known from the playbook, so a host that has the artifact in
// any release, under any name, links it as it links any file: nothing is
// fetched, and nothing was downloaded to find out.
func TestBuild_ArtifactAlreadyOnTheHostIsLinked(t *testing.T) {
	old := desired()
	a := converged(old)
	a.Releases["20261130T090000.000Z-cccc"] = map[string]string{"bin/api-old-name": "f1"}
	hp := build(fetched("f1"), a)
	require.True(t, hp.NewRelease)
	require.Empty(t, hp.Fetches)
	require.Contains(t, hp.Links, Link{From: "20261130T090000.000Z-cccc/bin/api-old-name", To: "bin/openim-api", Mode: 0o755})
	act, _ := actionFor(hp, "bin/openim-api")
	require.Equal(t, "update bin/openim-api (already on the host, nothing to send)", act.Desc)
	require.Equal(t, []string{"openim-api@0.service"}, startNames(hp), "its content changed: what runs it restarts")
}

// A host whose release holds the artifact's hash is converged: the same
// empty plan as for a local binary.
func TestBuild_ArtifactConverged(t *testing.T) {
	d := fetched("f1")
	hp := build(d, converged(d))
	require.False(t, hp.Changed(), "actions: %+v", hp.Actions)
	require.Empty(t, hp.Fetches)
}

// A new SHA-256 in the playbook is a new release whose artifact is
// fetched again, and restarts only the instances that run it.
func TestBuild_ArtifactNewHashIsFetchedAndRestarts(t *testing.T) {
	hp := build(fetched("f2"), converged(fetched("f1")))
	require.Len(t, hp.Fetches, 1)
	act, _ := actionFor(hp, "bin/openim-api")
	require.Equal(t, "update bin/openim-api (fetched by the host from "+apiURL+")", act.Desc)
	require.Equal(t, "sha256 f1 -> f2", act.Detail)
	require.Equal(t, []string{"openim-api@0.service"}, startNames(hp))
	require.Contains(t, hp.Starts[0].Reason, "bin/openim-api changed")
}

// The same artifact under a second name is fetched once and linked.
func TestBuild_ArtifactUnderTwoNamesIsFetchedOnce(t *testing.T) {
	d := fetched("f1")
	d.Artifacts = append(d.Artifacts, Artifact{Rel: "bin/openim-api-canary", SHA256: "f1", Mode: 0o755, Fetch: &Fetch{URL: apiURL}})
	hp := build(d, Actual{Units: map[string]UnitState{}})
	require.Len(t, hp.Fetches, 1)
	require.Equal(t, []Link{{From: "bin/openim-api", To: "bin/openim-api-canary", Mode: 0o755}}, hp.Dups)
}

// The short plan of new units never folds a fetched file into a byte
// count: its line, with the URL, is always printed.
func TestBuild_ArtifactKeepsItsLineInTheNewUnitsSummary(t *testing.T) {
	hp := build(fetched("f1"), Actual{Units: map[string]UnitState{}})
	require.NotNil(t, hp.NewUnits)
	for i, a := range hp.Actions {
		if a.Path == "bin/openim-api" {
			require.False(t, hp.NewUnits.Covers(i), a.Desc)
			require.True(t, strings.Contains(a.Desc, apiURL))
		}
	}
}
