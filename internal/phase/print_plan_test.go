package phase

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/plan"
	"github.com/openimsdk/openim-deploy/internal/ui"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

const planRelease = "20261201T104200.000Z-bbbb"

// printDesired is what one host of a small OpenIM-like app should run: a
// gate task, two services sharing a config file set, one of them with a
// secret environment file.
func printDesired(host string) plan.Desired {
	dropIn := func(u string) func(string) []byte {
		return func(id string) []byte { return []byte("# pin " + u + " " + id + "\n") }
	}
	return plan.Desired{
		Host:   host,
		Target: "openim.target",
		Artifacts: []plan.Artifact{
			{Rel: "bin/check", SHA256: "c1c1c1c1c1c1c1c1", Size: 2 << 10, Mode: 0o755},
			{Rel: "bin/openim-api", SHA256: "a1a1a1a1a1a1a1a1", Size: 17 << 20, Mode: 0o755},
			{Rel: "bin/openim-push", SHA256: "b1b1b1b1b1b1b1b1", Size: 12 << 20, Mode: 0o755},
			{Rel: "config/discovery.yml", SHA256: "d1d1d1d1d1d1d1d1", Size: 300, Mode: 0o644},
			{Rel: "config/share.yml", SHA256: "e1e1e1e1e1e1e1e1", Size: 900, Mode: 0o644},
			{Rel: "env/openim-push.env", SHA256: "f1f1f1f1f1f1f1f1", Size: 40, Mode: 0o600, Secret: true, Content: []byte("K=v\n")},
			{Rel: "units/check.service", SHA256: "u1", Size: 6, Mode: 0o644, Content: []byte("check\n")},
			{Rel: "units/openim-api@.service", SHA256: "u2", Size: 4, Mode: 0o644, Content: []byte("api\n")},
			{Rel: "units/openim-push@.service", SHA256: "u3", Size: 5, Mode: 0o644, Content: []byte("push\n")},
		},
		UnitFiles: []plan.UnitFile{
			{Name: "check.service", Content: []byte("[Unit]\nDescription=check\n")},
			{Name: "openim-api@.service", Content: []byte("[Unit]\nDescription=api %i\n")},
			{Name: "openim-push@.service", Content: []byte("[Unit]\nDescription=push %i\n")},
			{Name: "openim.target", Content: []byte("[Unit]\nDescription=openim\n")},
		},
		Units: []plan.UnitRef{
			{Unit: "check", Names: []string{"check.service"}, File: "check.service", Task: true,
				Uses: []string{"bin/check", "units/check.service"}, DropIn: dropIn("check")},
			{Unit: "openim-push", Names: []string{"openim-push@0.service", "openim-push@1.service", "openim-push@2.service"},
				File: "openim-push@.service", DropIn: dropIn("openim-push"),
				Uses: []string{"bin/openim-push", "env/openim-push.env", "config/", "units/openim-push@.service"}},
			{Unit: "openim-api", Names: []string{"openim-api@0.service"}, File: "openim-api@.service", DropIn: dropIn("openim-api"),
				Uses: []string{"bin/openim-api", "config/", "units/openim-api@.service"}},
		},
	}
}

func printWave(u string) int { return map[string]int{"check": 0, "openim-push": 1, "openim-api": 2}[u] }

// coldPlan is the plan of three identical hosts that never ran the app.
func coldPlan() *plan.Plan {
	p := &plan.Plan{}
	for _, h := range []string{"lab-1", "lab-2", "lab-3"} {
		p.Hosts = append(p.Hosts, plan.Build(printDesired(h), plan.Actual{Units: map[string]plan.UnitState{}}, printWave, planRelease))
	}
	return p
}

// printPlan renders p as the CLI does for three folded hosts.
func printPlan(p *plan.Plan, opts ui.Options) string {
	var buf bytes.Buffer
	opts.Fold = ui.NewHostSets([]string{"lab-1", "lab-2", "lab-3"}, nil)
	out := ui.New(&buf, opts)
	WritePlan(out, p)
	out.Flush()
	return buf.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(want), got, "golden %s differs; rerun with -update if the change is intended", path)
}

// A cold plan prints one line per new service (files, unit, instances to
// start), folded across identical hosts; -v prints every action, diffs
// and hashes included.
func TestWritePlan_ColdPlanSummarisesPerService(t *testing.T) {
	short := printPlan(coldPlan(), ui.Options{})
	golden(t, "plan_cold.golden", short)
	require.Contains(t, short, "[lab-1..3] + openim-push: 2 files (12.0 MiB), 1 unit, 3 instances to start\n")
	require.NotContains(t, short, "start openim-push@0.service")

	verbose := printPlan(coldPlan(), ui.Options{Verbose: true})
	golden(t, "plan_cold_verbose.golden", verbose)
	require.Contains(t, verbose, "[lab-1..3] + start openim-push@0.service (not running)\n")
	require.Greater(t, strings.Count(verbose, "\n"), 2*strings.Count(short, "\n"))
}

// The summary never reaches --output json: it carries every action, as
// it always did, with or without -v.
func TestWritePlan_JSONHasEveryAction(t *testing.T) {
	p := coldPlan()
	untimed := regexp.MustCompile(`"time":"[^"]*",`)
	got := untimed.ReplaceAllString(printPlan(p, ui.Options{JSON: true}), "")
	require.Equal(t, got, untimed.ReplaceAllString(printPlan(p, ui.Options{JSON: true, Verbose: true}), ""))
	var plans int
	for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
		var ev ui.Event
		require.NoError(t, json.Unmarshal([]byte(line), &ev))
		if ev.Type == "plan" {
			plans++
			require.NotEqual(t, "summary", ev.Fields["kind"])
		}
	}
	var actions int
	for _, hp := range p.Hosts {
		actions += len(hp.Actions)
	}
	require.Equal(t, actions, plans)
}

// A plan that changes what runs keeps its detail without -v: the changed
// binary's hashes and every restart with its reason, while a service new
// on the hosts still reads as one line.
func TestWritePlan_ChangesToRunningServicesStayDetailed(t *testing.T) {
	p := &plan.Plan{}
	for _, h := range []string{"lab-1", "lab-2", "lab-3"} {
		old := printDesired(h)
		old.Units = old.Units[:2] // openim-api is new in this apply
		a := actualOf(old, "20261201T101500.000Z-aaaa")
		d := printDesired(h)
		d.Artifacts[2].SHA256 = "b2b2b2b2b2b2b2b2" // a new openim-push binary
		p.Hosts = append(p.Hosts, plan.Build(d, a, printWave, planRelease))
	}
	got := printPlan(p, ui.Options{})
	golden(t, "plan_mixed.golden", got)
	require.Contains(t, got, "[lab-1..3] ~ update bin/openim-push (12.0 MiB)\n      sha256 b1b1b1b1b1b1 -> b2b2b2b2b2b2\n")
	require.Contains(t, got, "[lab-1..3] + restart openim-push@2.service (runs release 20261201T101500.000Z-aaaa, wants "+planRelease+": bin/openim-push changed)\n")
	require.Contains(t, got, "[lab-1..3] + openim-api: 1 file (17.0 MiB), 1 unit, 1 instance to start\n")
}

// actualOf is a host that runs d's units, all of them healthy, on release id.
func actualOf(d plan.Desired, id string) plan.Actual {
	m := map[string]string{}
	for _, art := range d.Artifacts {
		if strings.HasPrefix(art.Rel, "bin/openim-api") || art.Rel == "units/openim-api@.service" {
			continue
		}
		m[art.Rel] = art.SHA256
	}
	a := plan.Actual{Current: id, Releases: map[string]map[string]string{id: m},
		UnitFiles: map[string][]byte{}, Units: map[string]plan.UnitState{}, TaskRuns: map[string]string{}}
	for _, uf := range d.UnitFiles {
		if uf.Name == "openim-api@.service" {
			continue
		}
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

// A new unit whose files are all on the host already says it sends
// nothing, rather than "0 B".
func TestWritePlan_NewUnitWithNothingToSend(t *testing.T) {
	d := printDesired("lab-1")
	d.Artifacts[1].SHA256 = d.Artifacts[0].SHA256 // openim-api is the same binary as check, sent first
	d.Artifacts[1].Size = d.Artifacts[0].Size
	p := &plan.Plan{Hosts: []*plan.HostPlan{plan.Build(d, plan.Actual{Units: map[string]plan.UnitState{}}, printWave, planRelease)}}
	got := printPlan(p, ui.Options{})
	require.Contains(t, got, "[lab-1] + openim-api: 1 file (nothing to send), 1 unit, 1 instance to start\n")
	require.Contains(t, got, "[lab-1] + openim-push: 2 files (12.0 MiB), 1 unit, 3 instances to start\n")
}
