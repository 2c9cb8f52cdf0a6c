// Package sim simulates a fleet of converged hosts in-process, so the
// controller's real phases, SSH transport, connection handling and output
// can be run and measured against hundreds of hosts without a lab.
//
// Each simulated host is a targettest.Host (an SSH server with exec and
// SFTP on 127.0.0.1) whose commands are answered by an Interpreter from the
// host's State: the files, links, systemd units and processes a successful
// cold apply leaves behind, derived from the controller's own plan for a
// fresh host (State.Converge). The on-host scripts are recognised by their
// identity, and their outputs are rendered from the state by following
// what each script reads, so the plan is computed from the same protocol a
// real host speaks.
package sim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/phase"
	"github.com/openimsdk/openim-deploy/internal/target/targettest"
	"golang.org/x/crypto/ssh"
)

// ReleaseID is the release every simulated host runs.
const ReleaseID = "20261201T000000.000Z-0001"

// secret is the value of the playbook's secret variables: output redacts
// it, so it must not occur in anything else printed.
const secret = "sim-secret-7d1f"

// debian12Kex are the key exchanges Debian 12's sshd (OpenSSH 9.2p1)
// offers by default, in its order, less sntrup761x25519-sha512, which
// x/crypto/ssh does not implement: the simulated hosts are Debian 12
// hosts (see detect), so the controller negotiates with them what it
// negotiates with the lab's, curve25519-sha256. mlkem768x25519-sha256,
// the controller's first choice, came with OpenSSH 9.9.
var debian12Kex = []string{
	ssh.KeyExchangeCurve25519, "curve25519-sha256@libssh.org",
	ssh.KeyExchangeECDHP256, ssh.KeyExchangeECDHP384, ssh.KeyExchangeECDHP521,
	ssh.KeyExchangeDHGEXSHA256, ssh.KeyExchangeDH16SHA512, ssh.KeyExchangeDH14SHA256,
}

// Host is one simulated host.
type Host struct {
	Name   string
	SSH    *targettest.Host
	State  *State
	Interp *Interpreter
}

// Fleet is n simulated hosts deployed with the OpenIM playbook, and the
// files that describe them to the controller.
type Fleet struct {
	Dir       string
	Inventory string
	Playbook  string
	// Vars are the -var flags the playbook needs (its secrets).
	Vars  []string
	Hosts []*Host
	// Infra is infra-1, the inventory's host the playbook places nothing
	// on (its addresses go into the config templates). The controller
	// visits it to look for leftovers, so it is a simulated host too,
	// with nothing of the app on it, as a real infrastructure host is
	// reachable; it is not in Hosts.
	Infra *Host
	// Config is the configuration as the controller loads it.
	Config *config.Config
}

// Args returns the command line for subcommand against the fleet.
func (f *Fleet) Args(subcommand string, extra ...string) []string {
	args := []string{subcommand, "-i", f.Inventory, "-p", f.Playbook}
	args = append(args, f.Vars...)
	return append(args, extra...)
}

// NewOpenIMFleet starts n converged hosts running the OpenIM playbook
// (playbooks/openim.hcl: 26 instances and 2 gate tasks per host, group
// "app"), with small stand-in binaries and config. One client key and one
// known_hosts file (n lines) serve the whole fleet, as an operator's
// ~/.ssh would. Everything is closed by tb.Cleanup.
func NewOpenIMFleet(tb testing.TB, n int) *Fleet {
	tb.Helper()
	RaiseFileLimit(tb, 4*n+256)
	f := &Fleet{Dir: tb.TempDir(), Vars: []string{
		"-var", "mongo_password=" + secret, "-var", "redis_password=" + secret, "-var", "minio_secret_key=" + secret,
	}}
	f.Playbook = writeOpenIMPlaybook(tb, f.Dir)

	var known strings.Builder
	var inv strings.Builder
	for i := range n {
		st := NewState(fmt.Sprintf("%032x", i+1))
		in := &Interpreter{State: st}
		var h *targettest.Host
		// The host's goroutines inherit this label, so a CPU profile
		// tells the simulated hosts' work from the controller's
		// (go tool pprof -tagignore side=sim).
		pprof.Do(context.Background(), pprof.Labels("side", "sim"), func(context.Context) {
			h = targettest.NewHost(tb, targettest.WithInterpreter(in.Run), targettest.WithKeyExchanges(debian12Kex...))
		})
		f.Hosts = append(f.Hosts, &Host{Name: fmt.Sprintf("sim-%03d", i), SSH: h, State: st, Interp: in})
		if i > 0 {
			h.Authorize(f.Hosts[0].SSH.ClientKey.PublicKey())
		}
		known.WriteString(h.KnownHostsLine() + "\n")
	}
	{
		in := &Interpreter{State: NewState(fmt.Sprintf("%032x", n+1))}
		var h *targettest.Host
		pprof.Do(context.Background(), pprof.Labels("side", "sim"), func(context.Context) {
			h = targettest.NewHost(tb, targettest.WithInterpreter(in.Run), targettest.WithKeyExchanges(debian12Kex...))
		})
		h.Authorize(f.Hosts[0].SSH.ClientKey.PublicKey())
		known.WriteString(h.KnownHostsLine() + "\n")
		f.Infra = &Host{Name: "infra-1", SSH: h, State: in.State, Interp: in}
	}
	knownPath := filepath.Join(f.Dir, "known_hosts")
	must(tb, os.WriteFile(knownPath, []byte(known.String()), 0o600))
	fmt.Fprintf(&inv, "defaults {\n  user = \"root\"\n  identity = %q\n  known_hosts = %q\n}\n", f.Hosts[0].SSH.KeyPath, knownPath)
	for _, h := range f.Hosts {
		fmt.Fprintf(&inv, "host %q {\n  address = \"127.0.0.1\"\n  port = %d\n  groups = [\"app\"]\n}\n", h.Name, h.SSH.Port)
	}
	// The playbook renders the infrastructure's addresses into config
	// templates; nothing is placed on this host, and the controller
	// visits it only to look for leftovers.
	fmt.Fprintf(&inv, "host \"infra-1\" {\n  address = \"127.0.0.1\"\n  port = %d\n  groups = [\"infra\"]\n}\n", f.Infra.SSH.Port)
	f.Inventory = filepath.Join(f.Dir, "inventory.hcl")
	must(tb, os.WriteFile(f.Inventory, []byte(inv.String()), 0o644))

	cfg, diags := config.Load(config.LoadOptions{InventoryPath: f.Inventory, PlaybookPath: f.Playbook,
		Vars: map[string]string{"mongo_password": secret, "redis_password": secret, "minio_secret_key": secret}})
	if diags.HasErrors() {
		tb.Fatal(diags)
	}
	f.Config = cfg
	byName := map[string]*Host{}
	for _, h := range f.Hosts {
		byName[h.Name] = h
	}
	local := phase.NewLocalFiles()
	for _, hp := range cfg.Placement() {
		h, ok := byName[hp.Host.Name]
		if !ok {
			continue
		}
		if err := h.State.Converge(cfg, hp, local, ReleaseID, 1000); err != nil {
			tb.Fatal(err)
		}
	}
	return f
}

// Unknown returns every command a host did not recognise, prefixed with
// the host's name.
func (f *Fleet) Unknown() []string {
	var out []string
	for _, h := range append(slices.Clip(f.Hosts), f.Infra) {
		for _, u := range h.Interp.Unknown() {
			out = append(out, h.Name+": "+u)
		}
	}
	return out
}

// writeOpenIMPlaybook copies the shipped OpenIM playbook and its templates
// under dir and writes the binaries and config it names (small stand-ins:
// local files are hashed once per run, so their size does not scale with
// hosts).
func writeOpenIMPlaybook(tb testing.TB, dir string) string {
	tb.Helper()
	src := filepath.Join(repoRoot(tb), "playbooks")
	for _, d := range []string{"playbooks/templates", "_output/bin", "_output/config"} {
		must(tb, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	copyFile(tb, filepath.Join(src, "openim.hcl"), filepath.Join(dir, "playbooks", "openim.hcl"))
	tpls, err := filepath.Glob(filepath.Join(src, "templates", "*.tpl"))
	must(tb, err)
	for _, t := range tpls {
		copyFile(tb, t, filepath.Join(dir, "playbooks", "templates", filepath.Base(t)))
	}
	// A small ELF of this machine's architecture, which the simulated
	// hosts report (pre-flight checks binaries against it).
	elf, err := os.ReadFile("/bin/true")
	must(tb, err)
	for _, name := range []string{"check-free-memory", "check-component", "openim-rpc-auth", "openim-rpc-user",
		"openim-rpc-friend", "openim-rpc-group", "openim-rpc-conversation", "openim-rpc-msg", "openim-rpc-third",
		"openim-push", "openim-msgtransfer", "openim-crontask", "openim-msggateway", "openim-api"} {
		// An ELF for this machine (pre-flight checks the architecture),
		// made distinct per name so no two binaries share content.
		must(tb, os.WriteFile(filepath.Join(dir, "_output/bin", name), append(append([]byte(nil), elf...), name...), 0o755))
	}
	for i := range 20 {
		must(tb, os.WriteFile(filepath.Join(dir, "_output/config", fmt.Sprintf("openim-%d.yml", i)), []byte("x: 1\n"), 0o644))
	}
	return filepath.Join(dir, "playbooks", "openim.hcl")
}

func repoRoot(tb testing.TB) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		tb.Fatal("sim: cannot locate the repository")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func copyFile(tb testing.TB, from, to string) {
	b, err := os.ReadFile(from)
	must(tb, err)
	must(tb, os.WriteFile(to, b, 0o644))
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// RaiseFileLimit raises the soft RLIMIT_NOFILE to at least want (up to the
// hard limit): every simulated host holds a listener and both ends of a
// connection in this one process.
func RaiseFileLimit(tb testing.TB, want int) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		tb.Fatal(err)
	}
	if lim.Cur >= uint64(want) {
		return
	}
	lim.Cur = min(uint64(want), lim.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur < uint64(want) {
		tb.Fatalf("sim: %d hosts need %d open files; the limit is %d (raise ulimit -n)", want/4, want, lim.Cur)
	}
}
