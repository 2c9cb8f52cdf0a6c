package sim

import (
	"bytes"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/layout"
	"github.com/openimsdk/openim-deploy/internal/phase"
	"github.com/openimsdk/openim-deploy/internal/release"
	"github.com/openimsdk/openim-deploy/internal/systemd"
	"github.com/openimsdk/openim-deploy/internal/target/local"
)

// TestGatherMatchesTheRealScript keeps the simulation honest about the
// script it answers most: a simulated host's state is written out as files
// under a temp root and the real gather.sh runs over it with /bin/sh (a
// fake systemctl prints the simulated units). What the controller parses
// from the script's output must equal what it parses from the
// simulation's. When gather.sh changes what it prints, this fails until
// the simulation follows.
func TestGatherMatchesTheRealScript(t *testing.T) {
	f := NewOpenIMFleet(t, 1)
	h := f.Hosts[0]
	app := f.Config.Playbook.App
	d, err := phase.BuildDesired(f.Config, f.Config.Placement()[0], phase.NewLocalFiles())
	require.NoError(t, err)
	var req release.Request
	req.ShowProperties = systemd.ShowProperties
	for _, uf := range d.UnitFiles {
		req.Files = append(req.Files, uf.Name)
	}
	req.Units = []string{d.Target}
	for _, u := range d.Units {
		for _, n := range u.Names {
			req.Units = append(req.Units, n)
			req.Files = append(req.Files, release.DropInPath(n))
		}
	}
	req.Files = append(req.Files, "absent.service", "theirs@.service", "packaged.service")
	req.Units = append(req.Units, "absent.service")
	// Files in the way: one without the app's header, one packaged unit
	// a unit file would shadow.
	h.State.Files[path.Join(layout.UnitDir, "theirs@.service")] = []byte("[Unit]\nDescription=theirs\n")
	h.State.Files["/lib/systemd/system/packaged.service"] = []byte("[Unit]\n")

	rh := release.Host{Root: app.Root, App: app.Name, UnitDir: layout.UnitDir, StateDir: layout.AppStateDir(app.Name),
		ShadowDirs: []string{"/lib/systemd/system"}}
	script, args := rh.GatherScript(req)

	// The real script over the same state written out as files, with one
	// real process, running in the release, as every instance's main PID.
	root := t.TempDir()
	st := h.State
	cwd := ""
	for _, d := range st.Procs {
		cwd = d
	}
	require.NotEmpty(t, cwd)
	require.NoError(t, os.MkdirAll(filepath.Join(root, cwd), 0o755))
	sleeper := exec.Command("sleep", "60")
	sleeper.Dir = filepath.Join(root, cwd)
	require.NoError(t, sleeper.Start())
	t.Cleanup(func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() })
	pid := sleeper.Process.Pid
	for name, u := range st.Units {
		if u.MainPID != 0 {
			u.MainPID = pid
			st.Units[name] = u
		}
	}
	st.Procs = map[int]string{pid: cwd}
	for p, b := range st.Files {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, p), b, 0o644))
	}
	for p, to := range st.Links {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755))
		require.NoError(t, os.Symlink(to, filepath.Join(root, p)))
	}
	var show bytes.Buffer
	st.systemctlShow(&show, strings.Split(req.ShowProperties, ","), req.Units)
	bin := filepath.Join(root, "bin")
	require.NoError(t, os.MkdirAll(bin, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "show.txt"), show.Bytes(), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(bin, "systemctl"),
		[]byte("#!/bin/sh\n[ \"$1\" = show ] || exit 1\ncat \"$SIM_SHOW\"\n"), 0o755))
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	t.Setenv("SIM_SHOW", filepath.Join(root, "show.txt"))
	real := release.Host{T: local.New("real", ""), Root: filepath.Join(root, app.Root), App: app.Name,
		UnitDir: filepath.Join(root, layout.UnitDir), StateDir: filepath.Join(root, layout.AppStateDir(app.Name)),
		ShadowDirs: []string{filepath.Join(root, "/lib/systemd/system")}}
	got, err := real.Gather(t.Context(), req)
	require.NoError(t, err)
	// The simulation's answer to the same script and arguments.
	var simOut, simErr bytes.Buffer
	require.Zero(t, h.Interp.script(script, args, strings.NewReader(""), &simOut, &simErr), simErr.String())
	want, err := release.ParseGather(simOut.Bytes())
	require.NoError(t, err)

	require.Equal(t, want.Current, got.Current)
	require.Equal(t, want.Releases, got.Releases)
	require.Equal(t, want.Partials, got.Partials)
	require.Equal(t, want.Owned, got.Owned)
	require.Equal(t, want.Wants, got.Wants)
	require.Equal(t, want.TaskRuns, got.TaskRuns)
	require.Equal(t, want.Files, got.Files)
	require.Equal(t, want.Units, got.Units)
	require.Equal(t, want.Audit, got.Audit)
	require.Len(t, want.Foreign, 2)
	for i := range got.Foreign {
		got.Foreign[i].What = strings.TrimPrefix(got.Foreign[i].What, root) // the shadowed unit's path
	}
	require.Equal(t, want.Foreign, got.Foreign)
	// The real process runs under the temp root.
	require.Equal(t, map[int]string{pid: cwd}, want.Cwd)
	require.Equal(t, map[int]string{pid: filepath.Join(root, cwd)}, got.Cwd)
	require.Equal(t, app.Root, want.RealRoot)
	realRoot, err := filepath.EvalSymlinks(filepath.Join(root, app.Root))
	require.NoError(t, err)
	require.Equal(t, realRoot, got.RealRoot)
}
