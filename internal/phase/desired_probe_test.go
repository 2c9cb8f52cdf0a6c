package phase

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/plan"
	"github.com/openimsdk/openim-deploy/internal/probe"
)

// loadProbePlaybook loads a host with a waiting service (api: a tcp probe
// per instance) and one that does not wait (cron: no probe), with api's
// stop timeout and health port base as given.
func loadProbePlaybook(t *testing.T, stopTimeout string, port int) *config.Config {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"inv.hcl": "playbook = \"pb.hcl\"\nhost \"a\" {\n  address = \"10.0.0.1\"\n}\n",
		"pb.hcl": `app "x" {}
service "api" {
  binary       = "s"
  hosts        = ["all"]
  instances    = 2
  stop_timeout = "` + stopTimeout + `"
  health {
    tcp      = "127.0.0.1:${` + strconv.Itoa(port) + ` + instance.index}"
    interval = "250ms"
  }
}
service "cron" {
  binary = "s"
  hosts  = ["all"]
}`,
		"s": "",
	}
	return loadFiles(t, dir, files)
}

// runningActual is a host that runs every unit of d, healthy, on release id.
func runningActual(d plan.Desired, id string) plan.Actual {
	m := map[string]string{}
	for _, art := range d.Artifacts {
		m[art.Rel] = art.SHA256
	}
	a := plan.Actual{Current: id, Releases: map[string]map[string]string{id: m},
		UnitFiles: map[string][]byte{}, Units: map[string]plan.UnitState{}, TaskRuns: map[string]string{}}
	for _, uf := range d.UnitFiles {
		a.UnitFiles[uf.Name] = uf.Content
		a.Owned = append(a.Owned, uf.Name)
	}
	a.Units[d.Target] = plan.UnitState{Active: true, Enabled: true}
	for _, u := range d.Units {
		for _, n := range u.Names {
			a.Units[n] = plan.UnitState{Active: true, Enabled: true, Release: id}
			a.UnitFiles[n+".d/release.conf"] = u.DropIn(id)
			a.Owned = append(a.Owned, n+".d/release.conf")
			a.Wants = append(a.Wants, n)
		}
	}
	return a
}

// A service whose unit waits for its health check gets its check file and
// the probe for every architecture in the release; one without a probe
// gets neither. The drop-in pins the probe to the release. A changed stop
// timeout is a changed unit the plan shows and restarts for; a changed
// health port alone ships a new check file and re-pins without restarting.
func TestBuildDesired_ReadinessProbe(t *testing.T) {
	const id = "20261201T101500.000Z-aaaa"
	cfg := loadProbePlaybook(t, "15s", 7000)
	d, err := BuildDesired(cfg, cfg.Placement()[0], NewLocalFiles())
	require.NoError(t, err)
	arts := map[string]plan.Artifact{}
	for _, a := range d.Artifacts {
		arts[a.Rel] = a
	}
	for arch := range probe.Arches {
		bin := arts[probe.Rel(probe.Arches[arch])]
		require.NotNil(t, bin.Builtin, "probe for %s", arch)
		content, err := bin.Builtin()
		require.NoError(t, err)
		require.Len(t, content, int(bin.Size), "probe for %s", arch)
		require.EqualValues(t, 0o755, bin.Mode)
	}
	spec := arts["probe/api.json"]
	var parsed struct {
		Instances map[string]map[string]any `json:"instances"`
	}
	require.NoError(t, json.Unmarshal(spec.Content, &parsed))
	require.Equal(t, "127.0.0.1:7001", parsed.Instances["1"]["tcp"])
	require.Equal(t, "250ms", parsed.Instances["1"]["interval"])
	_, ok := arts["probe/cron.json"]
	require.False(t, ok, "cron has no probe, so no check file")
	for _, u := range d.Units {
		for _, use := range u.Uses {
			require.False(t, strings.HasPrefix(use, "probe/"), "%s restarts for a probe change", u.Unit)
		}
		pin := string(u.DropIn(id))
		if u.Unit == "api" {
			require.Contains(t, pin, "ExecStartPost=/opt/x/releases/"+id+"/probe/openim-probe.%a probe/api.json %i\n")
		} else {
			require.NotContains(t, pin, "ExecStartPost")
		}
	}
	actual := runningActual(d, id)
	wave := func(string) int { return 0 }
	const next = "20261201T104200.000Z-bbbb"

	// stop_timeout 15s -> 25s: the template's text changes.
	cfg2 := loadProbePlaybook(t, "25s", 7000)
	d2, err := BuildDesired(cfg2, cfg2.Placement()[0], NewLocalFiles())
	require.NoError(t, err)
	hp := plan.Build(d2, actual, wave, next)
	var unitDiff string
	restarts := 0
	for _, a := range hp.Actions {
		if a.Kind == plan.KindUnit && a.Path == "api@.service" {
			unitDiff = a.Detail
		}
		if a.Kind == plan.KindRestart {
			restarts++
			require.True(t, strings.HasPrefix(a.Unit, "api@"), a.Unit)
		}
	}
	require.Contains(t, unitDiff, "-TimeoutStopSec=15s")
	require.Contains(t, unitDiff, "+TimeoutStopSec=25s")
	require.Equal(t, 2, restarts, "both api instances restart onto the new unit")

	// Only the probe's port moves: a new check file, no restart.
	cfg3 := loadProbePlaybook(t, "15s", 7100)
	d3, err := BuildDesired(cfg3, cfg3.Placement()[0], NewLocalFiles())
	require.NoError(t, err)
	hp = plan.Build(d3, actual, wave, next)
	var kinds []string
	for _, a := range hp.Actions {
		require.NotEqual(t, plan.KindRestart, a.Kind, a.Desc)
		kinds = append(kinds, string(a.Kind)+" "+a.Path)
	}
	require.Contains(t, kinds, "upload probe/api.json")
	require.Contains(t, kinds, "pin api@0.service.d/release.conf", "the running instance moves to the new release without a restart")
}
