package phase

import (
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/plan"
	"github.com/openimsdk/openim-deploy/internal/preflight"
	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/target/targettest"
)

const (
	artifactURL = "https://mirror.example/openim/v3.8.3/openim-api"
	artifactSHA = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	storeHeader = "Authorization: Bearer hunter2"
)

// withArtifact makes r's api service a binary the hosts fetch from the
// store, with credentials.
func withArtifact(r *Run) {
	for _, s := range r.Config.Playbook.Services {
		if s.Name == "api" {
			s.Binary = ""
			s.Remote = &config.RemoteBinary{URL: artifactURL, SHA256: artifactSHA, Name: "openim-api", Header: storeHeader}
		}
	}
	r.Config.Secrets = []string{storeHeader}
}

// fetchHost is pushHost that also answers fetch.sh: ok, or as the script
// does for a file with another SHA-256 (exit 8, the hash got on stdout).
func fetchHost(name string, log *pushLog, mismatch bool) *targettest.Fake {
	f := pushHost(name, log)
	f.OnFunc(targettest.Contains("# fetch.sh DST MODE SHA256 URL AUTH"), func(cmd target.Cmd) (target.Result, error) {
		log.add("fetch " + cmd.Args[4])
		if mismatch {
			return target.Result{Stdout: []byte(strings.Repeat("e", 64) + "\n")},
				&target.ExitError{Cmd: cmd.String(), Code: 8, Stderr: "mismatch"}
		}
		return target.Result{}, nil
	})
	return f
}

// TestPushRelease_TheHostFetchesArtifacts: an artifact is not uploaded;
// between the uploads and finalize the host is asked to fetch it into the
// partial release, with the URL, mode and SHA-256 as arguments and the
// credentials on stdin only, as curl configuration; finalize's manifest
// has its SHA-256, and its one check leaves it out (fetch.sh checked it).
func TestPushRelease_TheHostFetchesArtifacts(t *testing.T) {
	r, out := demoRun(t, "im-1")
	withArtifact(r)
	log := &pushLog{}
	f := fetchHost("im-1", log, false)
	h := r.Hosts[0]
	h.Target = f
	coldPlans(t, r)
	hp := h.Plan
	require.Len(t, hp.Fetches, 1)
	require.Equal(t, "bin/openim-api", hp.Fetches[0].Rel)
	require.Zero(t, hp.Fetches[0].Size, "the controller does not know its size")

	require.NoError(t, PushRelease{}.Run(t.Context(), r))

	partial := path.Join("/opt/demo/releases", "."+hp.Release+".partial")
	events := log.all()
	fetchAt := slices.Index(events, "fetch "+partial+"/bin/openim-api")
	require.Positive(t, fetchAt, "%v", events)
	require.Equal(t, "finalize", events[fetchAt+1], "fetched last, just before finalize")
	require.NotContains(t, events, "upload "+partial+"/bin/openim-api", "the controller sends none of its bytes")

	for _, c := range f.Calls() {
		switch {
		case strings.Contains(c.Line, "# fetch.sh"):
			require.Equal(t, []string{partial + "/bin/openim-api", "0755", artifactSHA, artifactURL, "1"}, c.Cmd.Args[4:])
			require.False(t, c.Sudo, "fetched as the login user, as uploads are sent")
			require.Equal(t, `header = "`+storeHeader+`"`+"\n", string(c.Stdin))
		case strings.Contains(c.Line, "# finalize.sh"):
			require.Contains(t, string(c.Stdin), artifactSHA+"  bin/openim-api\n")
			check := slices.Index(c.Cmd.Args, "::check")
			require.NotContains(t, c.Cmd.Args[check+1:], "bin/openim-api")
		}
		require.NotContains(t, c.Line, "hunter2")
	}
	require.Contains(t, out.String(), ", 1 fetched by the host, 0 already on the host")
	require.NotContains(t, out.String(), "hunter2")
}

// TestPushRelease_ArtifactMismatchFailsTheHost: a fetched file with another
// SHA-256 fails the host's push before finalize, so the release is never
// committed; the error names the URL and the hash the host got, never the
// credentials.
func TestPushRelease_ArtifactMismatchFailsTheHost(t *testing.T) {
	r, out := demoRun(t, "im-1")
	withArtifact(r)
	log := &pushLog{}
	h := r.Hosts[0]
	h.Target = fetchHost("im-1", log, true)
	coldPlans(t, r)

	err := PushRelease{}.Run(t.Context(), r)
	require.Error(t, err)
	require.NotContains(t, log.all(), "finalize", "the release is not committed")
	o, herr, _ := h.Result()
	require.Equal(t, OutcomeFailed, o)
	require.ErrorContains(t, herr, artifactURL)
	require.ErrorContains(t, herr, "SHA-256 "+strings.Repeat("e", 64)+", the playbook says "+artifactSHA)
	require.Contains(t, out.String(), "[im-1] error: push release: fetch bin/openim-api from "+artifactURL)
	require.NotContains(t, out.String(), "hunter2")
}

// TestRequirements_Artifacts: pre-flight is told which URLs a host
// fetches itself, and which of them need credentials (curl); the local
// binaries are inspected as before, the artifact is not looked for on the
// controller.
func TestRequirements_Artifacts(t *testing.T) {
	r, _ := demoRun(t, "im-1")
	withArtifact(r)
	h := r.Hosts[0]
	req, err := requirements(r, h, &binaryCache{memo: map[string]preflight.Binary{}})
	require.NoError(t, err)
	require.Equal(t, []string{artifactURL}, req.Fetch)
	require.Equal(t, []string{artifactURL}, req.FetchAuth)
	require.Len(t, req.Binaries, 2, "gate and rpc, read locally")

	r.Config.Playbook.Services[1].Remote.Header = ""
	req, err = requirements(r, h, &binaryCache{memo: map[string]preflight.Binary{}})
	require.NoError(t, err)
	require.Equal(t, []string{artifactURL}, req.Fetch)
	require.Empty(t, req.FetchAuth)
}

// TestBuildDesired_Artifact: the desired release holds the artifact as
// bin/<name> with the playbook's SHA-256 and what the host needs to fetch
// it, and nothing is read on the controller for it.
func TestBuildDesired_Artifact(t *testing.T) {
	r, _ := demoRun(t, "im-1")
	withArtifact(r)
	d, err := BuildDesired(r.Config, r.Hosts[0].Placement, NewLocalFiles())
	require.NoError(t, err)
	var got *plan.Artifact
	for i := range d.Artifacts {
		if d.Artifacts[i].Rel == "bin/openim-api" {
			got = &d.Artifacts[i]
		}
	}
	require.NotNil(t, got)
	require.Equal(t, plan.Artifact{Rel: "bin/openim-api", SHA256: artifactSHA, Mode: 0o755,
		Fetch: &plan.Fetch{URL: artifactURL, Header: storeHeader}}, *got)
	for _, u := range d.UnitFiles {
		if u.Name == "api@.service" {
			require.Contains(t, string(u.Content), "/opt/demo/current/bin/openim-api")
		}
	}
}
