// Package lab gives tests access to the lab: real Debian hosts booted on this machine by
// lab/lab.sh (systemd-nspawn containers with systemd as PID 1, plus one sysvinit host),
// reachable over SSH on a private bridge. See docs/lab.md.
//
// A test that needs the lab starts with
//
//	l := lab.Require(t)
//
// which skips the test when the lab is not up, or fails it when OPENIM_LAB_REQUIRED is set
// (as `make test` does after booting the lab), so a missing lab never passes silently in CI.
package lab

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Environment variables read by this package.
const (
	// EnvDir names the directory holding lab.json (default: <repo>/lab/out).
	EnvDir = "OPENIM_LAB_DIR"
	// EnvRequired, when set to anything but "", "0" or "false", turns Require's skip into a
	// failure.
	EnvRequired = "OPENIM_LAB_REQUIRED"
)

const modulePath = "github.com/openimsdk/openim-deploy"

// Host is one lab host, as lab/lab.sh describes it in lab.json.
type Host struct {
	Name    string   `json:"name"`
	Address string   `json:"address"`
	Port    int      `json:"port"`
	Groups  []string `json:"groups"`
	// Systemd is true when the host boots systemd (/run/systemd/system exists there).
	Systemd bool `json:"systemd"`
	// Init is "systemd" or "sysvinit".
	Init  string `json:"init"`
	Netns string `json:"netns"`
	Veth  string `json:"veth"`
	// Rootfs is the host's root directory as seen from the controller (an overlay mount).
	Rootfs string `json:"rootfs"`
	// Upper is the overlay's upper directory: everything the host changed since `up`.
	Upper string `json:"upper"`
	// HostKeys is a controller-side copy of the host keys generated at `up`.
	HostKeys   string `json:"host_keys"`
	ConsoleLog string `json:"console_log"`
	// NspawnPID is the systemd-nspawn process; LeaderPID is the container's init (PID 1
	// inside), which Exec enters.
	NspawnPID        int    `json:"nspawn_pid"`
	LeaderPID        int    `json:"leader_pid"`
	LeaderStartTicks uint64 `json:"leader_start_ticks"`
}

// Addr is host:port for dialing the host's sshd.
func (h Host) Addr() string {
	port := h.Port
	if port == 0 {
		port = 22
	}
	return net.JoinHostPort(h.Address, strconv.Itoa(port))
}

// Lab is a running lab, read from lab.json.
type Lab struct {
	// Dir is the directory lab.json was read from.
	Dir   string `json:"-"`
	Hosts []Host `json:"hosts"`
	// InventoryPath is the lab's inventory: every host, user root, the lab's key and
	// known_hosts. Systemd hosts are in group "app", the sysvinit host in group "nosd".
	InventoryPath string `json:"inventory"`
	// KnownHostsPath holds every host's real keys (ed25519 and ecdsa) in OpenSSH format.
	KnownHostsPath string `json:"known_hosts"`
	// KeyPath is the unencrypted ed25519 private key authorized for root, deploy (sudo
	// without password) and deploy-pw (sudo needs the password "deploy-pw") on every host.
	KeyPath           string `json:"identity"`
	StateDir          string `json:"state_dir"`
	Bridge            string `json:"bridge"`
	Subnet            string `json:"subnet"`
	ControllerAddress string `json:"controller_address"`
}

// DefaultDir returns the directory lab.json is expected in: $OPENIM_LAB_DIR, or lab/out in
// the repository that contains the working directory.
func DefaultDir() (string, error) {
	if d := os.Getenv(EnvDir); d != "" {
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && isOurModule(b) {
			return filepath.Join(d, "lab", "out"), nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no %s repository above %s (set %s)", modulePath, wd, EnvDir)
		}
		d = parent
	}
}

func isOurModule(gomod []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`) == modulePath
		}
	}
	return false
}

// Load reads dir/lab.json. It does not check that the hosts run; see Check.
func Load(dir string) (*Lab, error) {
	b, err := os.ReadFile(filepath.Join(dir, "lab.json"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("the lab is not up: no %s", filepath.Join(dir, "lab.json"))
		}
		return nil, err
	}
	l := &Lab{Dir: dir}
	if err := json.Unmarshal(b, l); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "lab.json"), err)
	}
	if len(l.Hosts) == 0 {
		return nil, fmt.Errorf("%s lists no hosts", filepath.Join(dir, "lab.json"))
	}
	return l, nil
}

// Check reports whether every host's container is still running (its init process is
// the one lab/lab.sh started) and its sshd accepts TCP connections.
func (l *Lab) Check() error {
	var errs []error
	for _, h := range l.Hosts {
		if err := leaderAlive(h); err != nil {
			errs = append(errs, err)
			continue
		}
		c, err := net.DialTimeout("tcp", h.Addr(), 2*time.Second)
		if err != nil {
			errs = append(errs, fmt.Errorf("lab host %s: sshd at %s: %w", h.Name, h.Addr(), err))
			continue
		}
		c.Close()
	}
	return errors.Join(errs...)
}

func leaderAlive(h Host) error {
	st, err := procStartTicks(h.LeaderPID)
	if err != nil || st != h.LeaderStartTicks {
		return fmt.Errorf("lab host %s is not running (its init, pid %d, is gone); run lab/lab.sh up", h.Name, h.LeaderPID)
	}
	return nil
}

// procStartTicks reads field 22 of /proc/PID/stat; a zombie counts as gone.
func procStartTicks(pid int) (uint64, error) {
	if pid <= 0 {
		return 0, fmt.Errorf("no pid")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	if f[0] == "Z" || f[0] == "X" {
		return 0, fmt.Errorf("pid %d is a zombie", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

func required() bool {
	v := strings.TrimSpace(os.Getenv(EnvRequired))
	return v != "" && v != "0" && !strings.EqualFold(v, "false")
}

// Require returns the running lab. When the lab is not up it skips the test, or fails it
// when OPENIM_LAB_REQUIRED is set.
func Require(t testing.TB) *Lab {
	t.Helper()
	l, err := load()
	if err == nil {
		err = l.Check()
	}
	if err != nil {
		if required() {
			t.Fatalf("the lab is required (%s is set) but not usable: %v\n(start it with `lab/lab.sh up` as root)", EnvRequired, err)
		}
		t.Skipf("lab not up (%v); start it with `lab/lab.sh up` as root, or set %s=1 to fail instead", err, EnvRequired)
	}
	return l
}

func load() (*Lab, error) {
	dir, err := DefaultDir()
	if err != nil {
		return nil, err
	}
	return Load(dir)
}

// Lookup returns the named host.
func (l *Lab) Lookup(name string) (Host, bool) {
	for _, h := range l.Hosts {
		if h.Name == name {
			return h, true
		}
	}
	return Host{}, false
}

// Host returns the named host or fails the test.
func (l *Lab) Host(t testing.TB, name string) Host {
	t.Helper()
	h, ok := l.Lookup(name)
	if !ok {
		t.Fatalf("no lab host %q (have %s)", name, strings.Join(l.Names(), ", "))
	}
	return h
}

// Names lists the hosts' names in lab order (lab-1..lab-N, then nosd-1).
func (l *Lab) Names() []string {
	var n []string
	for _, h := range l.Hosts {
		n = append(n, h.Name)
	}
	return n
}

// SystemdHosts returns the hosts that boot systemd.
func (l *Lab) SystemdHosts() []Host { return l.filter(true) }

// NonSystemdHosts returns the hosts without systemd (nosd-1).
func (l *Lab) NonSystemdHosts() []Host { return l.filter(false) }

func (l *Lab) filter(systemd bool) []Host {
	var hs []Host
	for _, h := range l.Hosts {
		if h.Systemd == systemd {
			hs = append(hs, h)
		}
	}
	return hs
}

// KnownHostsLines returns the known_hosts lines of one host.
func (l *Lab) KnownHostsLines(host string) ([]string, error) {
	h, ok := l.Lookup(host)
	if !ok {
		return nil, fmt.Errorf("no lab host %q", host)
	}
	b, err := os.ReadFile(l.KnownHostsPath)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == h.Address {
			out = append(out, line)
		}
	}
	return out, nil
}

const execPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Exec runs a command inside a lab host as root without SSH, by entering the namespaces
// of the host's init with nsenter (a path the tool under test does not use), and returns
// its standard output and standard error together. The command gets a clean environment
// (PATH, HOME=/root, LANG=C.UTF-8). A non-zero exit is an error; the output is returned
// anyway. Needs root on the controller. Times out after 2 minutes; safe to call from a
// Cleanup.
func (l *Lab) Exec(t testing.TB, host string, args ...string) (string, error) {
	t.Helper()
	return l.exec(host, nil, args...)
}

func (l *Lab) exec(host string, stdin []byte, args ...string) (string, error) {
	h, ok := l.Lookup(host)
	if !ok {
		return "", fmt.Errorf("no lab host %q", host)
	}
	if len(args) == 0 {
		return "", fmt.Errorf("lab.Exec: no command")
	}
	if err := leaderAlive(h); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	argv := append([]string{
		"-t", strconv.Itoa(h.LeaderPID), "-m", "-u", "-i", "-n", "-p", "--",
		"/usr/bin/env", "-i", "PATH=" + execPath, "HOME=/root", "LANG=C.UTF-8", "TERM=dumb",
	}, args...)
	cmd := exec.CommandContext(ctx, "nsenter", argv...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		hint := ""
		if os.Geteuid() != 0 {
			hint = " (lab.Exec uses nsenter and needs root)"
		}
		return out.String(), fmt.Errorf("%s: %s: %w%s", host, strings.Join(args, " "), err, hint)
	}
	return out.String(), nil
}

var hostKeyTypes = []string{"ed25519", "ecdsa"}

// RegenerateHostKey gives a host new SSH host keys (ed25519 and ecdsa) and restarts its
// sshd, so that the lab's known_hosts no longer matches it: the changed-key test. It
// returns the new public keys ("ssh-ed25519 AAAA..."). A cleanup restores the original
// keys and restarts sshd again. While the keys are changed, every other SSH connection
// to that host fails host key checking, so use a host no concurrent test needs. Two
// callers for the same host (in any test process) take turns.
func (l *Lab) RegenerateHostKey(t testing.TB, host string) []string {
	t.Helper()
	h := l.Host(t, host)
	unlock, err := l.lockHost(h.Name)
	if err != nil {
		t.Fatalf("lock lab host %s: %v", h.Name, err)
	}
	sshDir := filepath.Join(h.Rootfs, "etc", "ssh")
	type saved struct {
		path string
		data []byte
		mode os.FileMode
	}
	var originals []saved
	for _, typ := range hostKeyTypes {
		for _, suffix := range []string{"", ".pub"} {
			p := filepath.Join(sshDir, "ssh_host_"+typ+"_key"+suffix)
			b, err := os.ReadFile(p)
			if err != nil {
				unlock()
				t.Fatalf("read host key of %s: %v", h.Name, err)
			}
			fi, _ := os.Stat(p)
			originals = append(originals, saved{p, b, fi.Mode().Perm()})
		}
	}
	t.Cleanup(func() {
		defer unlock()
		for _, s := range originals {
			if err := writeFileAtomic(s.path, s.data, s.mode); err != nil {
				t.Errorf("restore host key %s: %v", s.path, err)
			}
		}
		if err := l.restartSSHD(h); err != nil {
			t.Errorf("restart sshd on %s after restoring its keys: %v", h.Name, err)
		}
	})

	tmp := t.TempDir()
	var pubs []string
	for _, typ := range hostKeyTypes {
		key := filepath.Join(tmp, "ssh_host_"+typ+"_key")
		out, err := exec.Command("ssh-keygen", "-q", "-t", typ, "-N", "", "-C", h.Name+"-regenerated", "-f", key).CombinedOutput()
		if err != nil {
			t.Fatalf("ssh-keygen: %v: %s", err, out)
		}
		priv, err := os.ReadFile(key)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := os.ReadFile(key + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		if err := writeFileAtomic(filepath.Join(sshDir, "ssh_host_"+typ+"_key"), priv, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := writeFileAtomic(filepath.Join(sshDir, "ssh_host_"+typ+"_key.pub"), pub, 0o644); err != nil {
			t.Fatal(err)
		}
		f := strings.Fields(string(pub))
		pubs = append(pubs, f[0]+" "+f[1])
	}
	if err := l.restartSSHD(h); err != nil {
		t.Fatalf("restart sshd on %s with new keys: %v", h.Name, err)
	}
	return pubs
}

// RestartSSHD restarts sshd on host after a test changed its config and
// waits until it accepts connections again. A reload (SIGHUP) would return
// before sshd re-executes and leave a moment in which the next test's dial
// is refused; a restart of Type=notify ssh.service returns once it listens,
// and the dial below covers sysvinit hosts.
func (l *Lab) RestartSSHD(t testing.TB, host string) {
	t.Helper()
	if err := l.restartSSHD(l.Host(t, host)); err != nil {
		t.Fatalf("restart sshd on %s: %v", host, err)
	}
}

func (l *Lab) restartSSHD(h Host) error {
	var err error
	if h.Systemd {
		_, err = l.exec(h.Name, nil, "systemctl", "restart", "ssh.service")
	} else {
		_, err = l.exec(h.Name, nil, "/etc/init.d/ssh", "restart")
	}
	if err != nil {
		return err
	}
	// The listener may come up a moment after the restart returns (sysvinit).
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", h.Addr(), time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sshd on %s did not come back: %w", h.Name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (l *Lab) lockHost(host string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(l.Dir, ".hostkey-"+host+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".lab-tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// WriteInventory writes dir/inventory.hcl for some lab hosts (all of them when hosts is
// empty): a defaults block (user root, the lab's key and known_hosts), then the hosts with
// their lab groups, then extra verbatim (for bastion blocks, a playbook line, more hosts).
// It returns the file's path.
func (l *Lab) WriteInventory(t testing.TB, dir string, hosts []string, extra string) string {
	t.Helper()
	p, err := l.writeInventory(dir, hosts, extra)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (l *Lab) writeInventory(dir string, hosts []string, extra string) (string, error) {
	if len(hosts) == 0 {
		hosts = l.Names()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# lab inventory written by internal/lab for a test\n")
	fmt.Fprintf(&b, "defaults {\n  user        = %s\n  identity    = %s\n  known_hosts = %s\n}\n",
		hclString("root"), hclString(l.KeyPath), hclString(l.KnownHostsPath))
	seen := map[string]bool{}
	for _, name := range hosts {
		h, ok := l.Lookup(name)
		if !ok {
			return "", fmt.Errorf("no lab host %q (have %s)", name, strings.Join(l.Names(), ", "))
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		groups := append([]string(nil), h.Groups...)
		sort.Strings(groups)
		var gs []string
		for _, g := range groups {
			gs = append(gs, hclString(g))
		}
		fmt.Fprintf(&b, "\nhost %s {\n  address = %s\n", hclString(h.Name), hclString(h.Address))
		if h.Port != 0 && h.Port != 22 {
			fmt.Fprintf(&b, "  port    = %d\n", h.Port)
		}
		fmt.Fprintf(&b, "  groups  = [%s]\n}\n", strings.Join(gs, ", "))
	}
	if extra != "" {
		b.WriteString("\n" + extra)
		if !strings.HasSuffix(extra, "\n") {
			b.WriteString("\n")
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	p := filepath.Join(dir, "inventory.hcl")
	return p, os.WriteFile(p, []byte(b.String()), 0o644)
}

// hclString quotes s as an HCL string literal (JSON escapes are valid HCL; "${" and "%{"
// are escaped so no template is interpreted).
func hclString(s string) string {
	q, _ := json.Marshal(s)
	r := strings.ReplaceAll(string(q), "${", "$${")
	return strings.ReplaceAll(r, "%{", "%%{")
}
