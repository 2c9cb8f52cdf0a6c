package plan

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// covered returns the actions a summary stands for, and the rest.
func covered(hp *HostPlan) (in, out []Action) {
	for i, a := range hp.Actions {
		if hp.NewUnits.Covered[i] {
			in = append(in, a)
		} else {
			out = append(out, a)
		}
	}
	return in, out
}

// On a cold host every task and service is new: each gets its files, unit
// file and starts counted, and what it counts is exactly the upload, unit
// and start actions apply executes, nothing more and nothing less.
func TestNewUnits_ColdHostCountsExactlyThePlannedActions(t *testing.T) {
	d := desired()
	hp := build(d, Actual{Units: map[string]UnitState{}})
	sum := hp.NewUnits
	require.NotNil(t, sum)
	require.Len(t, sum.Covered, len(hp.Actions))
	require.Equal(t, []NewUnit{
		{Unit: "check", Task: true, Wave: 0, Files: FileCount{1, 10}, UnitFiles: 1, Starts: 1},
		{Unit: "openim-rpc-user", Wave: 1, Files: FileCount{3, 212}, UnitFiles: 1, Starts: 2},
		{Unit: "openim-api", Wave: 2, Files: FileCount{1, 100}, UnitFiles: 1, Starts: 1},
	}, sum.Units)
	require.Zero(t, sum.Shared)

	in, out := covered(hp)
	var files, units, starts int
	var bytes int64
	for _, u := range sum.Units {
		files += u.Files.Files
		bytes += u.Files.Bytes
		units += u.UnitFiles
		starts += u.Starts
	}
	var wantFiles, wantUnits, wantStarts int
	for _, a := range in {
		switch a.Kind {
		case KindUpload:
			wantFiles++
		case KindUnit:
			wantUnits++
		case KindStart, KindRun:
			wantStarts++
		default:
			t.Errorf("a summary must not hide a %s action: %s", a.Kind, a.Desc)
		}
	}
	require.Equal(t, wantFiles, files)
	require.Equal(t, wantUnits, units)
	require.Equal(t, wantStarts, starts)
	require.Equal(t, len(hp.Starts), starts, "every instance apply starts is counted")
	// Bytes are what goes over the network for those files.
	var sent int64
	for _, a := range hp.Uploads {
		if a.Rel != "units/check.service" && a.Rel != "units/openim-api@.service" && a.Rel != "units/openim-rpc-user@.service" {
			sent += a.Size
		}
	}
	require.Equal(t, sent, bytes)

	// What stays printed in full: the release, the target's unit, the
	// reload, the enable (shortened), the target start, current.
	var left []Kind
	for _, a := range out {
		left = append(left, a.Kind)
	}
	require.Equal(t, []Kind{KindRelease, KindUnit, KindReload, KindEnable, KindCurrent, KindStart}, left)
	require.Equal(t, "openim.target", out[1].Path)
	require.Equal(t, []string{"openim.target"}, sum.EnableRest)
	require.Equal(t, 4, sum.EnableNew)
}

// A file several new units read, and nothing else, is counted once, on a
// line of its own, not under one of them.
func TestNewUnits_SharedFileIsCountedOnce(t *testing.T) {
	d := desired()
	d.Units[2].Uses = append(d.Units[2].Uses, "config/")
	hp := build(d, Actual{Units: map[string]UnitState{}})
	require.Equal(t, FileCount{1, 5}, hp.NewUnits.Shared)
	require.Equal(t, FileCount{2, 207}, hp.NewUnits.Units[1].Files, "openim-rpc-user: its binary and env file")
}

// A service added to a running host is summarised; the service already
// there whose binary changed keeps its upload and restart lines, reasons
// and all, and a file both read is never hidden.
func TestNewUnits_OnlyNewServicesAreSummarised(t *testing.T) {
	old := desired()
	old.Units = old.Units[:2] // no openim-api yet
	old.UnitFiles = slices.DeleteFunc(old.UnitFiles, func(uf UnitFile) bool { return uf.Name == "openim-api@.service" })
	var arts []Artifact
	for _, a := range old.Artifacts {
		if a.Rel != "bin/openim-api" && a.Rel != "units/openim-api@.service" {
			arts = append(arts, a)
		}
	}
	old.Artifacts = arts
	a := converged(old)

	d := upgrade("bin/openim-rpc-user", "u2")
	hp := build(d, a)
	sum := hp.NewUnits
	require.NotNil(t, sum)
	require.Equal(t, []NewUnit{{Unit: "openim-api", Wave: 2, Files: FileCount{1, 100}, UnitFiles: 1, Starts: 1}}, sum.Units)
	in, out := covered(hp)
	require.Len(t, in, 3)
	var restarts []string
	for _, act := range out {
		if act.Kind == KindRestart {
			restarts = append(restarts, act.Desc)
		}
		require.NotEqual(t, "bin/openim-api", act.Path)
	}
	require.Len(t, restarts, 2, "the restarts of the changed service stay visible")
	require.Contains(t, restarts[0], "bin/openim-rpc-user changed")
	require.Empty(t, sum.EnableRest)
	require.Equal(t, 1, sum.EnableNew)
}

// A service whose instance failed, or that runs, is not new: a host that
// ran it once gets full detail, whatever its unit file says.
func TestNewUnits_FailedOrRunningInstanceIsNotNew(t *testing.T) {
	d := desired()
	a := Actual{Units: map[string]UnitState{"openim-api@0.service": {Failed: true}}}
	hp := build(d, a)
	for _, u := range hp.NewUnits.Units {
		require.NotEqual(t, "openim-api", u.Unit)
	}

	hp = build(d, converged(d))
	require.Nil(t, hp.NewUnits, "a converged host has nothing new")
}
