package plan

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func desired() Desired {
	return Desired{
		Host:   "im-1",
		Target: "openim.target",
		Artifacts: []Artifact{
			{Rel: "bin/check", SHA256: "c1", Size: 10, Mode: 0o755},
			{Rel: "bin/openim-api", SHA256: "a1", Size: 100, Mode: 0o755},
			{Rel: "bin/openim-rpc-user", SHA256: "u1", Size: 200, Mode: 0o755},
			{Rel: "config/share.yml", SHA256: "s1", Size: 5, Mode: 0o644},
			{Rel: "env/openim-rpc-user.env", SHA256: "e1", Size: 7, Mode: 0o600, Secret: true, Content: []byte("K=\"v\"\n")},
		},
		UnitFiles: []UnitFile{
			{Name: "check.service", Content: []byte("check\n")},
			{Name: "openim-api@.service", Content: []byte("api\n")},
			{Name: "openim-rpc-user@.service", Content: []byte("user\n")},
			{Name: "openim.target", Content: []byte("target\n")},
		},
		Units: []UnitRef{
			{Unit: "check", Names: []string{"check.service"}, File: "check.service", Task: true, Uses: []string{"bin/check"}},
			{Unit: "openim-rpc-user", Names: []string{"openim-rpc-user@0.service", "openim-rpc-user@1.service"},
				File: "openim-rpc-user@.service", Uses: []string{"bin/openim-rpc-user", "env/openim-rpc-user.env", "config/"}},
			{Unit: "openim-api", Names: []string{"openim-api@0.service"}, File: "openim-api@.service", Uses: []string{"bin/openim-api"}},
		},
	}
}

// converged is the Actual of a host that already runs desired().
func converged(d Desired) Actual {
	a := Actual{Release: "r1", Files: map[string]string{}, UnitFiles: map[string][]byte{}, Units: map[string]UnitState{}}
	for _, art := range d.Artifacts {
		a.Files[art.Rel] = art.SHA256
	}
	for _, uf := range d.UnitFiles {
		a.UnitFiles[uf.Name] = uf.Content
	}
	a.Units[d.Target] = UnitState{Active: true, Enabled: true}
	for _, u := range d.Units {
		for _, n := range u.Names {
			a.Units[n] = UnitState{Active: true, Enabled: true}
		}
	}
	return a
}

func waves(u string) int {
	return map[string]int{"check": 0, "openim-rpc-user": 1, "openim-api": 2}[u]
}

func startNames(hp *HostPlan) []string {
	var out []string
	for _, s := range hp.Starts {
		out = append(out, s.Name)
	}
	return out
}

// A converged host has an empty plan: nothing uploaded, nothing restarted.
func TestBuild_ConvergedHostHasNoChanges(t *testing.T) {
	d := desired()
	hp := Build(d, converged(d), waves)
	require.False(t, hp.Changed(), "actions: %+v", hp.Actions)
	require.Zero(t, hp.BytesToSend())
	require.Len(t, hp.Reuse, len(d.Artifacts))
}

// A cold host gets every file, every unit, enablement and a start of every
// instance, in dependency-wave order.
func TestBuild_ColdHost(t *testing.T) {
	d := desired()
	hp := Build(d, Actual{Units: map[string]UnitState{}}, waves)
	require.True(t, hp.NewRelease)
	require.Len(t, hp.Uploads, 5)
	require.Len(t, hp.UnitFiles, 4)
	require.Equal(t, []string{"openim.target", "check.service", "openim-rpc-user@0.service", "openim-rpc-user@1.service", "openim-api@0.service"}, hp.Enable)
	require.Equal(t, []string{"check.service", "openim-rpc-user@0.service", "openim-rpc-user@1.service", "openim-api@0.service"}, startNames(hp))
	require.True(t, hp.Starts[0].Task)
	require.Equal(t, 2, hp.Starts[3].Wave)
	require.True(t, hp.StartTarget)
}

// Changing one binary restarts only the instances that run it.
func TestBuild_ChangedBinaryRestartsOnlyItsInstances(t *testing.T) {
	d := desired()
	a := converged(d)
	a.Files["bin/openim-api"] = "old"
	hp := Build(d, a, waves)
	require.True(t, hp.NewRelease)
	require.Len(t, hp.Uploads, 1)
	require.Equal(t, "bin/openim-api", hp.Uploads[0].Rel)
	require.Equal(t, []string{"openim-api@0.service"}, startNames(hp))
	require.True(t, hp.Starts[0].Restart)
	require.Contains(t, hp.Starts[0].Reason, "bin/openim-api changed")
}

// A changed file in a file set restarts the units that use the set.
func TestBuild_ChangedConfigRestartsUsers(t *testing.T) {
	d := desired()
	a := converged(d)
	a.Files["config/share.yml"] = "old"
	hp := Build(d, a, waves)
	require.Equal(t, []string{"openim-rpc-user@0.service", "openim-rpc-user@1.service"}, startNames(hp))
}

// A file removed from a file set still counts as a change of that set.
func TestBuild_RemovedFileIsAChange(t *testing.T) {
	d := desired()
	a := converged(d)
	a.Files["config/old.yml"] = "x"
	hp := Build(d, a, waves)
	require.Equal(t, []string{"config/old.yml"}, hp.Removed)
	require.Equal(t, []string{"openim-rpc-user@0.service", "openim-rpc-user@1.service"}, startNames(hp))
}

// A changed unit file is rewritten, reloaded and its instances restarted,
// and the plan carries a diff.
func TestBuild_ChangedUnitIsReloadedAndRestarted(t *testing.T) {
	d := desired()
	a := converged(d)
	a.UnitFiles["openim-api@.service"] = []byte("api-old\n")
	hp := Build(d, a, waves)
	require.False(t, hp.NewRelease)
	require.Len(t, hp.UnitFiles, 1)
	var kinds []Kind
	for _, act := range hp.Actions {
		kinds = append(kinds, act.Kind)
	}
	require.Equal(t, []Kind{KindUnit, KindReload, KindRestart}, kinds)
	require.Contains(t, hp.Actions[0].Detail, "-api-old")
	require.Contains(t, hp.Actions[0].Detail, "+api")
}

// A changed secret shows neither value nor hash.
func TestBuild_SecretChangeIsRedacted(t *testing.T) {
	d := desired()
	a := converged(d)
	a.Files["env/openim-rpc-user.env"] = "old"
	hp := Build(d, a, waves)
	require.Equal(t, KindUpload, hp.Actions[0].Kind)
	require.Contains(t, hp.Actions[0].Desc, "secret")
	require.Empty(t, hp.Actions[0].Detail)
	require.NotContains(t, hp.Actions[0].Desc, "e1")
}

// A crashed (failed) instance is started even when nothing changed.
func TestBuild_FailedInstanceIsStarted(t *testing.T) {
	d := desired()
	a := converged(d)
	a.Units["openim-api@0.service"] = UnitState{Failed: true, Enabled: true}
	hp := Build(d, a, waves)
	require.Equal(t, []string{"openim-api@0.service"}, startNames(hp))
	require.False(t, hp.Starts[0].Restart)
	require.Equal(t, "failed", hp.Starts[0].Reason)
}

// BenchmarkBuild measures planning one host of the OpenIM shape (28
// release files, 26 instances) against a converged state.
func BenchmarkBuild(b *testing.B) {
	d := desired()
	for i := range 24 {
		d.Artifacts = append(d.Artifacts, Artifact{Rel: "config/f" + string(rune('a'+i)), SHA256: "x"})
	}
	a := converged(d)
	for b.Loop() {
		_ = Build(d, a, waves)
	}
}
