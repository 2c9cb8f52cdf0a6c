package sim

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/layout"
	"github.com/openimsdk/openim-deploy/internal/phase"
	"github.com/openimsdk/openim-deploy/internal/plan"
	"github.com/openimsdk/openim-deploy/internal/release"
	"github.com/openimsdk/openim-deploy/internal/unit"
)

// Unit is systemd's view of one unit on a simulated host.
type Unit struct {
	ActiveState, SubState, UnitFileState string
	MainPID                              int
}

// State is one simulated host: the files under its unit directory, app
// root and state directory (absolute path to content), its symlinks, the
// units systemd knows and the working directory of every main process. The
// scripts the controller sends are answered from it (see interp.go), and
// the lock scripts change it, so a second run sees the first one's lease.
type State struct {
	mu sync.Mutex

	// MachineID is unique per host: pre-flight refuses clones.
	MachineID string
	Files     map[string][]byte
	Links     map[string]string // path -> link target, as readlink prints it
	Units     map[string]Unit
	Procs     map[int]string // main PID -> working directory
	// Ports are the TCP ports each unit's process listens on while it
	// runs (its health ports): pre-flight reads them from /proc/net/tcp.
	Ports map[string][]int
}

// NewState returns an empty host: no app deployed.
func NewState(machineID string) *State {
	return &State{MachineID: machineID, Files: map[string][]byte{}, Links: map[string]string{},
		Units: map[string]Unit{}, Procs: map[int]string{}, Ports: map[string][]int{}}
}

// Converge puts on s what a successful cold apply of hp leaves behind,
// derived from the controller's own plan for a fresh host: the release
// with its manifest, current pointing at it, every unit file and drop-in
// (with the headers the renderer wrote), the wants links of units
// installed into the app target, the task records, and systemd running
// every instance from the release its drop-in pins (its working
// directory). Nothing here reads the plan's notion of "converged": the
// next gather reads these files back through the scripts, and the plan
// must find nothing to do.
func (s *State) Converge(cfg *config.Config, hp config.HostPlacement, local *phase.LocalFiles, releaseID string, firstPID int) error {
	d, err := phase.BuildDesired(cfg, hp, local)
	if err != nil {
		return err
	}
	app := cfg.Playbook.App
	// The simulated hosts run systemd 252: secrets go as credentials,
	// hashed with the key the first apply stored.
	// The key is the one s already holds (a test seeds it with the key a
	// simulated apply made), else a fixed one.
	var credKey []byte
	if d.DeliversCredentials() {
		credKey = bytes.Repeat([]byte{0x5e}, release.CredKeySize)
		s.mu.Lock()
		if k, ok := s.Files[path.Join(layout.AppStateDir(cfg.Playbook.App.Name), release.CredKeyName)]; ok {
			if b, err := hex.DecodeString(strings.TrimSpace(string(k))); err == nil {
				credKey = b
			}
		}
		s.mu.Unlock()
		d = plan.KeyCredentials(d, credKey)
	}
	cold := plan.Build(d, plan.Actual{}, func(string) int { return 0 }, releaseID)
	if !cold.NewRelease || cold.Release != releaseID {
		return fmt.Errorf("sim: the cold plan for %s makes no new release", hp.Host.Name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	lay := layout.Layout{Root: app.Root}
	s.Files[path.Join(lay.Release(releaseID), release.ManifestName)] = release.Manifest(cold.Manifest).Encode()
	s.Links[path.Join(app.Root, "current")] = "releases/" + releaseID
	if credKey != nil {
		s.Files[path.Join(layout.AppStateDir(app.Name), release.CredKeyName)] = []byte(hex.EncodeToString(credKey) + "\n")
	}
	unitText := map[string][]byte{}
	for _, uf := range cold.UnitFiles {
		s.Files[path.Join(layout.UnitDir, uf.Name)] = uf.Content
		unitText[uf.Name] = uf.Content
	}
	for _, uf := range cold.Pins {
		s.Files[path.Join(layout.UnitDir, uf.Name)] = uf.Content
	}
	enabled := map[string]bool{}
	for _, n := range cold.Enable {
		enabled[n] = true
	}
	fileOf := map[string]string{}
	for _, u := range d.Units {
		for _, n := range u.Names {
			fileOf[n] = u.File
		}
	}
	pid := firstPID
	for _, st := range cold.Starts {
		s.Files[path.Join(layout.UnitDir, release.DropInPath(st.Name))] = st.DropIn
		if st.Task {
			s.Files[path.Join(layout.AppStateDir(app.Name), "ran", st.Unit)] = []byte(st.Record + "\n")
		}
		text := unitText[fileOf[st.Name]]
		if enabled[st.Name] && wantedBy(text, d.Target) {
			s.Links[path.Join(layout.UnitDir, d.Target+".wants", st.Name)] = "../" + fileOf[st.Name]
		}
		u := Unit{ActiveState: "active", SubState: "running", UnitFileState: unitFileState(enabled[st.Name])}
		if directive(text, "Type") == "oneshot" {
			// A gate task: RemainAfterExit keeps it active once it exited 0.
			u.SubState = "exited"
		} else {
			wd := directive(st.DropIn, "WorkingDirectory")
			if wd == "" {
				return fmt.Errorf("sim: the drop-in of %s pins no WorkingDirectory", st.Name)
			}
			u.MainPID = pid
			s.Procs[pid] = wd
			pid++
		}
		s.Units[st.Name] = u
	}
	s.Units[d.Target] = Unit{ActiveState: "active", SubState: "active", UnitFileState: unitFileState(enabled[d.Target])}
	for _, sv := range hp.Services {
		for _, in := range sv.Instances {
			name := unit.InstanceName(sv.Name, in.Name)
			s.Ports[name] = append(s.Ports[name], in.Health.Ports...)
		}
	}
	return nil
}

// BreakInstance makes one running instance die, as a crash would: the
// next plan must want to start it again. Tests use it to check that the
// simulation is not a canned "nothing to do".
func (s *State) BreakInstance(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.Units[name]
	delete(s.Procs, u.MainPID)
	u.ActiveState, u.SubState, u.MainPID = "failed", "failed", 0
	s.Units[name] = u
}

func unitFileState(enabled bool) string {
	if enabled {
		return "enabled"
	}
	return "disabled"
}

// wantedBy reports whether unit text installs the unit into target.
func wantedBy(text []byte, target string) bool {
	for _, v := range directives(text, "WantedBy") {
		if slices.Contains(strings.Fields(v), target) {
			return true
		}
	}
	return false
}

// directive returns the last value of key in unit text ("" when unset).
func directive(text []byte, key string) string {
	vs := directives(text, key)
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

// directives returns every value of key in unit text. It runs for every
// unit of every simulated host on every read, so it converts only the
// values it returns: what it costs is the simulation's, not the
// controller's, and it shares the benchmark's cores with the controller.
func directives(text []byte, key string) []string {
	var out []string
	for line := range bytes.Lines(text) {
		k, v, ok := bytes.Cut(line, []byte("="))
		if ok && string(bytes.TrimSpace(k)) == key {
			out = append(out, string(bytes.TrimSpace(v)))
		}
	}
	return out
}

// listDir returns the names directly under dir, sorted as a C-locale glob
// sorts them, among files and links.
func (s *State) listDir(dir string) []string {
	seen := map[string]bool{}
	prefix := dir + "/"
	add := func(p string) {
		if rest, ok := strings.CutPrefix(p, prefix); ok && rest != "" {
			name, _, _ := strings.Cut(rest, "/")
			seen[name] = true
		}
	}
	for p := range s.Files {
		add(p)
	}
	for p := range s.Links {
		add(p)
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// listening returns the ports of every unit whose process runs, in
// unit-name order.
func (s *State) listening() []int {
	names := make([]string, 0, len(s.Ports))
	for n := range s.Ports {
		names = append(names, n)
	}
	slices.Sort(names)
	var out []int
	for _, n := range names {
		if s.Units[n].MainPID != 0 {
			out = append(out, s.Ports[n]...)
		}
	}
	return out
}

// isDir reports whether anything lives below p.
func (s *State) isDir(p string) bool {
	prefix := p + "/"
	for f := range s.Files {
		if strings.HasPrefix(f, prefix) {
			return true
		}
	}
	for f := range s.Links {
		if strings.HasPrefix(f, prefix) {
			return true
		}
	}
	return false
}
