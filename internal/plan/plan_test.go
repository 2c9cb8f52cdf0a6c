package plan

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const (
	r1  = "20261201T101500.000Z-aaaa" // the release the converged host runs
	new = "20261201T104200.000Z-bbbb" // the id a new release would get
)

func dropIn(unit string) func(string) []byte {
	return func(id string) []byte { return []byte("pin " + unit + " " + id + "\n") }
}

func desired() Desired {
	d := Desired{
		Host:   "im-1",
		Target: "openim.target",
		Artifacts: []Artifact{
			{Rel: "bin/check", SHA256: "c1", Size: 10, Mode: 0o755},
			{Rel: "bin/openim-api", SHA256: "a1", Size: 100, Mode: 0o755},
			{Rel: "bin/openim-rpc-user", SHA256: "u1", Size: 200, Mode: 0o755},
			{Rel: "config/share.yml", SHA256: "s1", Size: 5, Mode: 0o644},
			{Rel: "env/openim-rpc-user.env", SHA256: "e1", Size: 7, Mode: 0o600, Secret: true, Content: []byte("K=\"v\"\n")},
			{Rel: "units/check.service", SHA256: "uc", Size: 6, Mode: 0o644, Content: []byte("check\n")},
			{Rel: "units/openim-api@.service", SHA256: "ua", Size: 4, Mode: 0o644, Content: []byte("api\n")},
			{Rel: "units/openim-rpc-user@.service", SHA256: "uu", Size: 5, Mode: 0o644, Content: []byte("user\n")},
		},
		UnitFiles: []UnitFile{
			{Name: "check.service", Content: []byte("check\n")},
			{Name: "openim-api@.service", Content: []byte("api\n")},
			{Name: "openim-rpc-user@.service", Content: []byte("user\n")},
			{Name: "openim.target", Content: []byte("target\n")},
		},
		Units: []UnitRef{
			{Unit: "check", Names: []string{"check.service"}, File: "check.service", Task: true,
				Uses: []string{"bin/check", "units/check.service"}, DropIn: dropIn("check")},
			{Unit: "openim-rpc-user", Names: []string{"openim-rpc-user@0.service", "openim-rpc-user@1.service"},
				File: "openim-rpc-user@.service", DropIn: dropIn("openim-rpc-user"),
				Uses: []string{"bin/openim-rpc-user", "env/openim-rpc-user.env", "config/", "units/openim-rpc-user@.service"}},
			{Unit: "openim-api", Names: []string{"openim-api@0.service"}, File: "openim-api@.service",
				Uses: []string{"bin/openim-api", "units/openim-api@.service"}, DropIn: dropIn("openim-api")},
		},
	}
	return d
}

func manifestOf(d Desired) map[string]string {
	m := map[string]string{}
	for _, art := range d.Artifacts {
		m[art.Rel] = art.SHA256
	}
	return m
}

// converged is the Actual of a host whose every instance runs r1, which
// holds exactly desired()'s files.
func converged(d Desired) Actual {
	a := Actual{Current: r1, Releases: map[string]map[string]string{r1: manifestOf(d)},
		UnitFiles: map[string][]byte{}, Units: map[string]UnitState{}, TaskRuns: map[string]string{}}
	for _, uf := range d.UnitFiles {
		a.UnitFiles[uf.Name] = uf.Content
		a.Owned = append(a.Owned, uf.Name)
	}
	a.Units[d.Target] = UnitState{Active: true, Enabled: true}
	for _, u := range d.Units {
		for _, n := range u.Names {
			a.Units[n] = UnitState{Active: true, Enabled: true, Release: r1}
			a.UnitFiles[n+".d/release.conf"] = u.DropIn(r1)
			a.Owned = append(a.Owned, n+".d/release.conf")
			a.Wants = append(a.Wants, n)
		}
		if u.Task {
			a.TaskRuns[u.Unit] = r1 + " " + fingerprint(u.Uses, manifestOf(d))
			st := a.Units[u.Names[0]]
			st.Release = ""
			a.Units[u.Names[0]] = st
		}
	}
	return a
}

// upgrade returns desired() with one file's content changed.
func upgrade(rel, sha string) Desired {
	d := desired()
	for i := range d.Artifacts {
		if d.Artifacts[i].Rel == rel {
			d.Artifacts[i].SHA256 = sha
		}
	}
	return d
}

func waves(u string) int {
	return map[string]int{"check": 0, "openim-rpc-user": 1, "openim-api": 2}[u]
}

func build(d Desired, a Actual) *HostPlan { return Build(d, a, waves, new) }

func startNames(hp *HostPlan) []string {
	var out []string
	for _, s := range hp.Starts {
		out = append(out, s.Name)
	}
	return out
}

func kinds(hp *HostPlan) []Kind {
	var out []Kind
	for _, act := range hp.Actions {
		out = append(out, act.Kind)
	}
	return out
}

// A converged host has an empty plan: nothing uploaded, nothing restarted.
func TestBuild_ConvergedHostHasNoChanges(t *testing.T) {
	d := desired()
	hp := build(d, converged(d))
	require.False(t, hp.Changed(), "actions: %+v", hp.Actions)
	require.Equal(t, r1, hp.Release)
	require.Zero(t, hp.BytesToSend())
}

// A cold host gets every file, every unit, enablement, a pin and a start
// of every instance, in dependency-wave order; current follows at the end.
func TestBuild_ColdHost(t *testing.T) {
	d := desired()
	hp := build(d, Actual{Units: map[string]UnitState{}})
	require.True(t, hp.NewRelease)
	require.Equal(t, new, hp.Release)
	require.Len(t, hp.Uploads, len(d.Artifacts))
	require.Len(t, hp.UnitFiles, 4)
	require.Equal(t, []string{"check.service", "openim-rpc-user@0.service", "openim-rpc-user@1.service", "openim-api@0.service"}, startNames(hp))
	require.Equal(t, "pin openim-api "+new+"\n", string(hp.Starts[3].DropIn))
	require.True(t, hp.SwitchCurrent)
	require.True(t, hp.StartTarget)
}

// Changing one binary makes a new release in which everything else is
// linked, and restarts only the instances that run it, saying why.
func TestBuild_ChangedBinaryRestartsOnlyItsInstances(t *testing.T) {
	d := upgrade("bin/openim-api", "a2")
	hp := build(d, converged(desired()))
	require.True(t, hp.NewRelease)
	var sent []string
	for _, u := range hp.Uploads {
		if u.Content == nil {
			sent = append(sent, u.Rel)
		}
	}
	require.Equal(t, []string{"bin/openim-api"}, sent, "of the files from disk, only the changed one is sent")
	require.Len(t, hp.Links, 3, "bin/check, bin/openim-rpc-user and config/share.yml are linked; generated files are always sent")
	require.Equal(t, []string{"openim-api@0.service"}, startNames(hp))
	require.True(t, hp.Starts[0].Restart)
	require.Equal(t, "runs release "+r1+", wants "+new+": bin/openim-api changed", hp.Starts[0].Reason)
	// check and rpc-user run r1, identical for them: re-pinned, not restarted.
	require.Len(t, hp.Pins, 3)
	require.Equal(t, "openim-rpc-user@0.service.d/release.conf", hp.Pins[1].Name)
	require.True(t, hp.Reload)
	require.Contains(t, hp.Protect, r1, "the release instances still run is never pruned")
}

// The plan sees what runs, not what is on disk: after an apply that built
// and switched to release new but never restarted api (a failed gate, a
// Ctrl-C), the next plan restarts api although every file matches.
func TestBuild_InterruptedUpgradeIsSeen(t *testing.T) {
	d := upgrade("bin/openim-api", "a2")
	a := converged(desired())
	a.Releases[new] = manifestOf(d)
	a.Current = new
	hp := build(d, a)
	require.False(t, hp.NewRelease)
	require.Equal(t, new, hp.Release, "the release already on the host is reused, not sent again")
	require.Equal(t, []string{"openim-api@0.service"}, startNames(hp))
	require.Contains(t, hp.Starts[0].Reason, "runs release "+r1+", wants "+new)
}

// Two identical files in a new release are sent once and linked.
func TestBuild_DuplicateContentIsSentOnce(t *testing.T) {
	d := desired()
	d.Artifacts = append(d.Artifacts, Artifact{Rel: "bin/openim-api-copy", SHA256: "a1", Size: 100, Mode: 0o755})
	hp := build(d, Actual{Units: map[string]UnitState{}})
	require.Len(t, hp.Uploads, len(d.Artifacts)-1)
	require.Equal(t, []Link{{From: "bin/openim-api", To: "bin/openim-api-copy", Mode: 0o755}}, hp.Dups)
}

// A changed file in a file set restarts the units that use the set.
func TestBuild_ChangedConfigRestartsUsers(t *testing.T) {
	hp := build(upgrade("config/share.yml", "s2"), converged(desired()))
	require.Equal(t, []string{"openim-rpc-user@0.service", "openim-rpc-user@1.service"}, startNames(hp))
	require.Contains(t, hp.Starts[0].Reason, "config/share.yml changed")
}

// A file removed from a file set still counts as a change of that set.
func TestBuild_RemovedFileIsAChange(t *testing.T) {
	d := desired()
	a := converged(d)
	a.Releases[r1]["config/old.yml"] = "x"
	hp := build(d, a)
	require.Contains(t, kinds(hp), KindRemove)
	require.Equal(t, []string{"openim-rpc-user@0.service", "openim-rpc-user@1.service"}, startNames(hp))
	require.Contains(t, hp.Starts[0].Reason, "config/old.yml removed")
}

// A changed unit file is rewritten and reloaded, and its instances restart
// because the unit text is part of the release; the plan carries a diff.
func TestBuild_ChangedUnitIsReloadedAndRestarted(t *testing.T) {
	d := upgrade("units/openim-api@.service", "ua2")
	d.UnitFiles[1].Content = []byte("api-new\n")
	hp := build(d, converged(desired()))
	require.Len(t, hp.UnitFiles, 1)
	require.Equal(t, []string{"openim-api@0.service"}, startNames(hp))
	require.Contains(t, hp.Starts[0].Reason, "units/openim-api@.service changed")
	var detail string
	for _, act := range hp.Actions {
		if act.Kind == KindUnit {
			detail = act.Detail
		}
	}
	require.Contains(t, detail, "-api")
	require.Contains(t, detail, "+api-new")
}

// A task re-runs only when the inputs it last succeeded with changed.
func TestBuild_TaskRerunsOnItsInputsOnly(t *testing.T) {
	hp := build(upgrade("bin/openim-api", "a2"), converged(desired()))
	require.NotContains(t, startNames(hp), "check.service")
	hp = build(upgrade("bin/check", "c2"), converged(desired()))
	require.Equal(t, "check.service", hp.Starts[0].Name)
	require.Equal(t, "ran with release "+r1+", wants "+new+": bin/check changed", hp.Starts[0].Reason)
	require.True(t, strings.HasPrefix(hp.Starts[0].Record, new+" "))
}

// A changed secret shows neither value nor hash.
func TestBuild_SecretChangeIsRedacted(t *testing.T) {
	hp := build(upgrade("env/openim-rpc-user.env", "e2"), converged(desired()))
	require.Equal(t, KindUpload, hp.Actions[0].Kind)
	require.Contains(t, hp.Actions[0].Desc, "secret")
	require.Empty(t, hp.Actions[0].Detail)
	require.NotContains(t, hp.Actions[0].Desc, "e2")
}

// A crashed (failed) instance is started even when nothing changed.
func TestBuild_FailedInstanceIsStarted(t *testing.T) {
	d := desired()
	a := converged(d)
	a.Units["openim-api@0.service"] = UnitState{Failed: true, Enabled: true}
	hp := build(d, a)
	require.Equal(t, []string{"openim-api@0.service"}, startNames(hp))
	require.False(t, hp.Starts[0].Restart)
	require.Equal(t, "failed", hp.Starts[0].Reason)
}

// What the tool installed and the playbook no longer places is removed:
// an instance beyond a lowered count, a removed service's template and
// instances. Files the tool did not install are never candidates.
func TestBuild_OrphansAreRemoved(t *testing.T) {
	d := desired()
	a := converged(d)
	a.Owned = append(a.Owned, "openim-rpc-user@2.service.d/release.conf", "old@.service", "old@0.service.d/release.conf")
	a.Wants = append(a.Wants, "openim-rpc-user@2.service", "old@0.service", "old@1.service", "foreign.service")
	hp := build(d, a)
	require.Equal(t, []string{"old@0.service", "old@1.service", "openim-rpc-user@2.service"}, hp.Orphans)
	require.Equal(t, []string{"openim-rpc-user@2.service.d/release.conf", "old@.service", "old@0.service.d/release.conf"}, hp.OrphanFiles)
	require.Empty(t, hp.Starts)
}

// Daemon state that lags the files on disk is reloaded, with the reason.
func TestBuild_StaleSystemdIsReloaded(t *testing.T) {
	d := desired()
	a := converged(d)
	st := a.Units["openim-api@0.service"]
	st.NeedReload = true
	a.Units["openim-api@0.service"] = st
	hp := build(d, a)
	require.Equal(t, []Kind{KindReload}, kinds(hp))
	require.Contains(t, hp.Actions[0].Desc, "has not loaded")
}

// Partial releases of interrupted runs are removed even when nothing else changes.
func TestBuild_PartialsAreCleaned(t *testing.T) {
	d := desired()
	a := converged(d)
	a.Partials = 2
	hp := build(d, a)
	require.True(t, hp.CleanPartials)
	require.Equal(t, []Kind{KindClean}, kinds(hp))
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
		_ = Build(d, a, waves, new)
	}
}

// A unit that tripped its start limit is reported as such and started.
func TestBuild_StartLimitHitIsReported(t *testing.T) {
	d := desired()
	a := converged(d)
	a.Units["openim-api@0.service"] = UnitState{Failed: true, StartLimitHit: true, Enabled: true}
	hp := build(d, a)
	require.Equal(t, []string{"openim-api@0.service"}, startNames(hp))
	require.Contains(t, hp.Starts[0].Reason, "start limit hit")
}

// A plain file is never linked from a generated one, whatever their bytes:
// an older release's template, unit text or secret has its own owner and
// mode, which a shared inode would carry into the new release (and
// finalize's chown of the new release back into the old).
func TestBuild_NeverLinksFromGeneratedFiles(t *testing.T) {
	d := desired()
	a := converged(d)
	m := a.Releases[r1]
	m["config/rendered.yml"] = "same" // a template in the playbook now
	m[EnvDir+"api.env"] = "same"
	m[UnitsDir+"x.service"] = "same"
	d.Artifacts = append(d.Artifacts,
		Artifact{Rel: "config/rendered.yml", SHA256: "other", Content: []byte("x"), Mode: 0o640, AppOwned: true},
		Artifact{Rel: "config/plain.yml", SHA256: "same", Size: 4, Mode: 0o644})
	hp := build(d, a)
	for _, l := range hp.Links {
		require.NotEqual(t, "config/plain.yml", l.To, "linked from a generated file: %+v", l)
	}
	var sent []string
	for _, u := range hp.Uploads {
		sent = append(sent, u.Rel)
	}
	require.Contains(t, sent, "config/plain.yml")
}

// Content shipped as it is (the embedded readiness probe) is a file like a
// local one: a new release links it from the release that has it, instead
// of sending its megabytes again with every release.
func TestBuild_BuiltinContentIsLinkedFromAnOlderRelease(t *testing.T) {
	d := desired()
	a := converged(d)
	a.Releases[r1]["probe/openim-probe.x86-64"] = "probe-sum"
	d.Artifacts = append(d.Artifacts,
		Artifact{Rel: "probe/openim-probe.x86-64", SHA256: "probe-sum", Size: 1 << 20, Mode: 0o755,
			Builtin: func() ([]byte, error) { return []byte("elf"), nil }},
		Artifact{Rel: "bin/openim-api", SHA256: "new-api", Size: 100, Mode: 0o755})
	hp := build(d, a)
	require.Contains(t, hp.Links, Link{From: r1 + "/probe/openim-probe.x86-64", To: "probe/openim-probe.x86-64", Mode: 0o755})
	for _, u := range hp.Uploads {
		require.NotEqual(t, "probe/openim-probe.x86-64", u.Rel, "sent again")
	}
}

// Two files with the same bytes but different modes are both sent: a link
// would give the second the first one's mode.
func TestBuild_DuplicateContentOfAnotherModeIsSentAgain(t *testing.T) {
	d := desired()
	d.Artifacts = append(d.Artifacts, Artifact{Rel: "bin/openim-api-ro", SHA256: "a1", Size: 100, Mode: 0o644})
	hp := build(d, Actual{Units: map[string]UnitState{}})
	require.Len(t, hp.Uploads, len(d.Artifacts))
	require.Empty(t, hp.Dups)
}

// A release pinned only by the drop-in of a stopped instance (held back by
// an unreachable dependency host, twice) is protected from pruning: its
// next start, or the host's next boot, chdirs into it.
func TestProtected_ReleasePinnedByAStoppedInstance(t *testing.T) {
	a := converged(desired())
	const held = "20261130T090000.000Z-beef"
	a.Releases[held] = map[string]string{}
	a.Units["openim-api@0.service"] = UnitState{} // stopped: runs nothing
	a.UnitFiles["openim-api@0.service.d/release.conf"] = []byte(
		"# Managed by openim-deploy (app=openim)\n[Service]\nWorkingDirectory=/opt/openim/releases/" + held + "\nExecStart=\nExecStart=/opt/openim/releases/" + held + "/bin/openim-api\n")
	require.Contains(t, Protected(a), held)
	require.Contains(t, build(desired(), a).Protect, held)
}

func TestPinnedRelease(t *testing.T) {
	require.Equal(t, "r-1", PinnedRelease([]byte("[Service]\nWorkingDirectory=/srv/x/releases/r-1\n")))
	require.Equal(t, "r-1", PinnedRelease([]byte("[Service]\nWorkingDirectory=/srv/x/releases/r-1/\n")))
	require.Equal(t, "", PinnedRelease([]byte("[Service]\nWorkingDirectory=/srv/x/current\n")))
	require.Equal(t, "", PinnedRelease([]byte("[Service]\nWorkingDirectory=/srv/x/releases/.r.partial\n")))
	require.Equal(t, "", PinnedRelease(nil))
}

// A host the playbook places nothing on any more loses every unit the tool
// installed there, the target included, and nothing else: no new release,
// current untouched, releases kept.
func TestBuild_UnplacedHostRemovesEverythingItInstalled(t *testing.T) {
	a := converged(desired())
	d := Desired{Host: "h", Target: "openim.target",
		UnitFiles: []UnitFile{{Name: "openim.target", Content: []byte("target\n")}},
		Artifacts: []Artifact{{Rel: UnitsDir + "openim.target", SHA256: "t", Content: []byte("target\n")}}}
	require.False(t, d.Placed())
	a.Owned = append(a.Owned, "openim.target")
	a.Units["openim.target"] = UnitState{Active: true, Enabled: true}
	hp := build(d, a)
	require.False(t, hp.NewRelease)
	require.False(t, hp.SwitchCurrent)
	require.False(t, hp.StartTarget)
	require.Empty(t, hp.Starts)
	require.Equal(t, r1, hp.Release)
	require.Contains(t, hp.Orphans, "openim.target")
	require.Contains(t, hp.Orphans, "openim-api@0.service")
	require.Contains(t, hp.Orphans, "check.service")
	require.ElementsMatch(t, a.Owned, hp.OrphanFiles)
	require.Contains(t, hp.Protect, r1)

	// Where the app never was, there is nothing to do.
	cold := build(d, Actual{Units: map[string]UnitState{}})
	require.Empty(t, cold.Actions)
}

// A host whose only placement is a template is deployed like any other.
func TestBuild_TemplateOnlyHostIsPlaced(t *testing.T) {
	d := Desired{Host: "h", Target: "openim.target",
		Artifacts: []Artifact{{Rel: "config/only.yml", SHA256: "x", Content: []byte("x"), Mode: 0o644}}}
	require.True(t, d.Placed())
	hp := build(d, Actual{Units: map[string]UnitState{}})
	require.True(t, hp.NewRelease)
}

// An instance that runs another release, identical in every file it reads,
// is re-pinned without a restart, and the pin line says why; one that runs
// the wanted release under a stale drop-in is re-pinned with no reason.
func TestBuild_EquivalentReleaseIsRepinnedNotRestarted(t *testing.T) {
	hp := build(upgrade("bin/openim-api", "a2"), converged(desired()))
	require.Equal(t, []string{"openim-api@0.service"}, startNames(hp))
	var pins []string
	for _, act := range hp.Actions {
		if act.Kind == KindPin {
			require.Equal(t, act.Unit+".d/release.conf", act.Path)
			pins = append(pins, act.Desc)
		}
	}
	require.Equal(t, []string{
		"pin check.service to release " + new + " (no restart)",
		"pin openim-rpc-user@0.service to release " + new + " (no restart: runs release " + r1 + ", identical for this unit)",
		"pin openim-rpc-user@1.service to release " + new + " (no restart: runs release " + r1 + ", identical for this unit)",
	}, pins)
	require.Len(t, hp.Pins, 3)

	d := desired()
	a := converged(d)
	a.UnitFiles["openim-api@0.service.d/release.conf"] = []byte("stale\n")
	hp = build(d, a)
	require.Empty(t, hp.Starts)
	require.Equal(t, []UnitFile{{Name: "openim-api@0.service.d/release.conf", Content: dropIn("openim-api")(r1)}}, hp.Pins)
	require.Equal(t, "pin openim-api@0.service to release "+r1+" (no restart)", hp.Actions[0].Desc)
}
