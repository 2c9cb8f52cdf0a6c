package phase

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/target/targettest"
	"github.com/openimsdk/openim-deploy/internal/ui"
)

// The helpers here let a Fake answer the one composed read ReadHosts (and
// the lock's rider) sends, from a small description of the host, so the
// phases before the write half can run against fakes as they run against
// hosts: the facts pre-flight judges, the state the plan compares against
// and the lock's holder, each in the protocol's own format.

// hostClock is when the fakes' hosts think it is; the runs' fake clocks
// start there too, so pre-flight sees no clock skew.
var hostClock = time.Unix(1_700_000_000, 0)

// tinyELF is the 64-byte header of an x86-64 Linux executable with no
// program or section headers, then tail: what pre-flight inspects of a
// binary, without depending on the machine the tests run on.
func tinyELF(tail string) []byte {
	b := make([]byte, 64)
	copy(b, "\x7fELF\x02\x01\x01") // 64-bit, little-endian, version 1
	le := binary.LittleEndian
	le.PutUint16(b[16:], 2)  // ET_EXEC
	le.PutUint16(b[18:], 62) // EM_X86_64
	le.PutUint32(b[20:], 1)  // EV_CURRENT
	le.PutUint16(b[52:], 64) // e_ehsize
	le.PutUint16(b[54:], 56) // e_phentsize
	le.PutUint16(b[58:], 64) // e_shentsize
	return append(b, tail...)
}

// demoRun is a run over hosts named names, every one in group "app",
// placed the demo playbook: the task gate, then rpc (instances 0 and 1),
// then api (instance 0). The binaries are tiny x86-64 ELF files, as the
// fake hosts are. No host has a target yet.
func demoRun(t *testing.T, names ...string) (*Run, *bytes.Buffer) {
	t.Helper()
	dir := t.TempDir()
	bin := func(name string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, tinyELF(name), 0o755))
		return p
	}
	unit := func(name string, deps ...string) config.Unit {
		return config.Unit{Name: name, Binary: bin(name), Hosts: []string{"app"}, DependsOn: deps}
	}
	inst := func(names ...string) []config.Instance {
		var out []config.Instance
		for i, n := range names {
			out = append(out, config.Instance{Name: n, Index: i, Health: config.Health{Stable: time.Second}})
		}
		return out
	}
	inv := &config.Inventory{}
	for _, n := range names {
		inv.Hosts = append(inv.Hosts, &config.Host{Name: n, Address: "192.0.2.1", Groups: []string{"app"}, SSH: config.SSH{User: "root"}})
	}
	cfg := &config.Config{
		Inventory: inv,
		Playbook: &config.Playbook{
			App:   config.App{Name: "demo", Root: "/opt/demo", KeepReleases: 3},
			Tasks: []*config.Task{{Unit: unit("gate")}},
			Services: []*config.Service{
				{Unit: unit("rpc", "gate"), Instances: inst("0", "1")},
				{Unit: unit("api", "rpc"), Instances: inst("0")},
			},
		},
	}
	var out bytes.Buffer
	r := &Run{Config: cfg, Out: ui.New(&out, ui.Options{}), Opts: Options{Parallel: 4, ReleaseID: "20260102T000000.000Z-0002"},
		Clock: &instantClock{now: hostClock}}
	for _, hp := range cfg.Placement() {
		r.Hosts = append(r.Hosts, &Host{Config: hp.Host, Placement: hp})
	}
	return r, &out
}

// hostView is what a fake host holds, as its composed read reports it.
type hostView struct {
	// sudo is the detect script's sudo line ("root" unless set).
	sudo string
	// machineID is unique per host unless set.
	machineID string
	current   string
	// releases maps release ids to their manifests (path -> sha256).
	releases map[string]map[string]string
	// owned are the unit files and drop-ins the app's header marks as its
	// own, with their text (paths relative to the unit directory).
	owned map[string][]byte
	// running maps units to the release their main process runs in; a
	// unit not listed is not loaded.
	running map[string]string
	// holder, when set, is the JSON of a live lease another run holds.
	holder string
	// init is the detect script's init section (systemd unless set).
	init string
	// noClock leaves the clock section out (a host whose clock cannot be
	// read): for a detect the controller times with the wall clock.
	noClock bool
}

// detectOutput is the detect script's output on a Debian 12 host under
// systemd, logged in as root, with plenty of everything.
func detectOutput(name string, v hostView) string {
	sudo := v.sudo
	if sudo == "" {
		sudo = "root"
	}
	id := v.machineID
	if id == "" {
		sum := sha256.Sum256([]byte(name))
		id = hex.EncodeToString(sum[:16])
	}
	sec := func(s string) string { return "@@openim-deploy-facts@@ " + s + "\n" }
	init := v.init
	if init == "" {
		init = "run-systemd\npid1 systemd\nsbin-init /lib/systemd/systemd\n"
	}
	clock := sec("clock") + strconv.FormatInt(hostClock.Unix(), 10) + "\n"
	if v.noClock {
		clock = ""
	}
	return sec("os") + "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n" +
		sec("uname") + "node " + name + "\nrelease 6.1.0-18-amd64\nmachine x86_64\n" +
		sec("init") + init +
		sec("systemd") + "systemd 252 (252.22-1~deb12u1)\n" +
		sec("machine-id") + id + "\n" +
		clock +
		sec("memory") + "MemTotal:       16384000 kB\nMemFree:         8192000 kB\nMemAvailable:   12288000 kB\n" +
		sec("nofile") + "soft 1048576\nhard 1048576\nnr_open 1048576\n" +
		sec("user") + "uid 0\nname root\n" +
		sec("sudo") + sudo + "\n" +
		sec("listen") + "0100007F:0016\n" +
		sec("disk") + "path /opt\nFilesystem     1024-blocks     Used Available Capacity Mounted on\n/dev/vda1        102400000 20480000  81920000      20% /\n" +
		sec("end")
}

// gatherOutput is gather.sh's output for args (its usage's arguments).
func gatherOutput(t *testing.T, v hostView, args []string) string {
	t.Helper()
	root, nfiles := args[0], args[8]
	n, err := strconv.Atoi(nfiles)
	require.NoError(t, err)
	files, units := args[9:9+n], args[9+n:]
	var b strings.Builder
	if v.current != "" {
		fmt.Fprintf(&b, "realroot %s\ncurrent %s\n", root, v.current)
	}
	for _, id := range sortedKeysOf(v.releases) {
		fmt.Fprintf(&b, "manifest %s\n", id)
		for _, rel := range sortedKeysOf(v.releases[id]) {
			fmt.Fprintf(&b, "m %s  %s\n", v.releases[id][rel], rel)
		}
	}
	for _, rel := range sortedKeysOf(v.owned) {
		fmt.Fprintf(&b, "owned %s\n", rel)
	}
	var have []string
	for _, f := range files {
		if _, ok := v.owned[f]; ok {
			have = append(have, f)
		}
	}
	if len(have) > 0 {
		b.WriteString("sizes\n")
		for _, f := range have {
			fmt.Fprintf(&b, "%d %s\n", len(v.owned[f]), f)
		}
		b.WriteString("endsizes\n")
		for _, f := range have {
			b.Write(v.owned[f])
		}
	}
	var show strings.Builder
	pids := map[string]int{}
	for i, u := range units {
		if i > 0 {
			show.WriteString("\n")
		}
		id, ok := v.running[u]
		switch {
		case !ok:
			fmt.Fprintf(&show, "Id=%s\nLoadState=not-found\nActiveState=inactive\nSubState=dead\nMainPID=0\nNRestarts=0\n", u)
		case strings.HasSuffix(u, ".target") || id == "":
			fmt.Fprintf(&show, "Id=%s\nLoadState=loaded\nActiveState=active\nSubState=active\nMainPID=0\nNRestarts=0\nUnitFileState=enabled\n", u)
		default:
			pids[u] = 100 + i
			fmt.Fprintf(&show, "Id=%s\nLoadState=loaded\nActiveState=active\nSubState=running\nMainPID=%d\nNRestarts=0\nUnitFileState=enabled\n", u, pids[u])
		}
	}
	fmt.Fprintf(&b, "show\n%s\nendshow\n", strings.TrimRight(show.String(), "\n"))
	for _, u := range units {
		if pid, ok := pids[u]; ok {
			fmt.Fprintf(&b, "pid %d %s/releases/%s\n", pid, root, v.running[u])
		}
	}
	return b.String()
}

func sortedKeysOf[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// isComposed reports whether cmd is a program made by target.Compose.
func isComposed(cmd target.Cmd) bool {
	return len(cmd.Args) > 2 && strings.HasPrefix(cmd.Args[2], "__openim_part0() {")
}

// partRC ends one part's output in a composed program's output.
func partRC(code int) string { return fmt.Sprintf("\n@@openim-deploy-part-rc@@ %d\n", code) }

// answerRead makes f answer ReadHosts' composed read (detect, gather,
// read-lock) from v, and only when it is sent read-only.
func answerRead(t *testing.T, f *targettest.Fake, v hostView) {
	f.OnFunc(isComposedMatcher, func(cmd target.Cmd) (target.Result, error) {
		if !cmd.ReadOnly {
			return target.Result{}, fmt.Errorf("the host read was not sent read-only")
		}
		args := cmd.Args[4:] // sh -c SCRIPT sh ARGS...: DISK, gather's, LOCKPATH
		out := detectOutput(f.Name(), v) + partRC(0) + gatherOutput(t, v, args[1:len(args)-1]) + partRC(0)
		if v.holder != "" {
			out += fmt.Sprintf("%d\n%d\n%s\n", hostClock.Unix(), hostClock.Unix()+600, v.holder) + partRC(0)
		} else {
			out += partRC(4)
		}
		return target.Result{Stdout: []byte(out)}, nil
	})
}

// isComposedMatcher matches the command line of a composed program.
func isComposedMatcher(line string) bool { return strings.Contains(line, "__openim_part0() {") }
