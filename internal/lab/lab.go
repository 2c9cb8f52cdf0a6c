// Package lab gives tests the project's real-systemd test fleet: Debian
// hosts booted by lab/lab.sh with systemd-nspawn, each in its own network
// namespace. Tests skip when the lab is not up, unless OPENIM_LAB_REQUIRED
// is set (as make test does), in which case a missing lab fails them.
package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Host is one lab machine as lab.json describes it.
type Host struct {
	Name      string   `json:"name"`
	Address   string   `json:"address"`
	Port      int      `json:"port"`
	Groups    []string `json:"groups"`
	Systemd   bool     `json:"systemd"`
	Init      string   `json:"init"`
	Netns     string   `json:"netns"`
	Rootfs    string   `json:"rootfs"`
	LeaderPID int      `json:"leader_pid"`
}

// Lab is a running lab.
type Lab struct {
	InventoryPath  string `json:"inventory"`
	KnownHostsPath string `json:"known_hosts"`
	KeyPath        string `json:"identity"`
	Hosts          []Host `json:"hosts"`
}

// Require returns the running lab, or skips the test when there is none
// (fails it when OPENIM_LAB_REQUIRED is set).
func Require(t testing.TB) *Lab {
	t.Helper()
	l, err := Load(Dir())
	if err != nil {
		if os.Getenv("OPENIM_LAB_REQUIRED") != "" {
			t.Fatalf("lab required but not usable: %v (run make lab)", err)
		}
		t.Skipf("lab not up (%v): run make lab as root to run this test", err)
	}
	return l
}

// Dir is where lab.sh writes its outputs: $OPENIM_LAB_DIR, or lab/out at
// the repository root.
func Dir() string {
	if d := os.Getenv("OPENIM_LAB_DIR"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		return "lab/out"
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, "lab", "out")
		}
		if filepath.Dir(d) == d {
			return filepath.Join(wd, "lab", "out")
		}
	}
}

// Load reads dir/lab.json and checks every host's init is still running.
func Load(dir string) (*Lab, error) {
	b, err := os.ReadFile(filepath.Join(dir, "lab.json"))
	if err != nil {
		return nil, err
	}
	var l Lab
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("lab.json: %w", err)
	}
	if len(l.Hosts) == 0 {
		return nil, errors.New("lab.json lists no hosts")
	}
	for _, h := range l.Hosts {
		if err := syscallKill0(h.LeaderPID); err != nil {
			return nil, fmt.Errorf("host %s is down (pid %d): %w", h.Name, h.LeaderPID, err)
		}
	}
	return &l, nil
}

func syscallKill0(pid int) error {
	if pid <= 0 {
		return errors.New("no pid")
	}
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err
}

// Host returns the host called name or fails the test.
func (l *Lab) Host(t testing.TB, name string) Host {
	t.Helper()
	for _, h := range l.Hosts {
		if h.Name == name {
			return h
		}
	}
	t.Fatalf("lab has no host %q", name)
	return Host{}
}

// Exec runs args inside a lab host without SSH, by entering the
// container's namespaces, so tests can check what the tool did through a
// path the tool does not use.
func (l *Lab) Exec(t testing.TB, host string, args ...string) (string, error) {
	t.Helper()
	h := l.Host(t, host)
	full := append([]string{"-t", strconv.Itoa(h.LeaderPID), "-m", "-u", "-i", "-n", "-p", "--"}, args...)
	// Not t.Context(): Exec also runs from Cleanup, after it is cancelled.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "nsenter", full...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %s: %w", host, strings.Join(args, " "), err)
	}
	return string(out), nil
}

// regenScript gives a host new SSH host keys, keeping the old ones aside.
const regenScript = `set -e
mkdir -p /root/.hostkeys.bak
cp -a /etc/ssh/ssh_host_* /root/.hostkeys.bak/
rm -f /etc/ssh/ssh_host_*
ssh-keygen -A -q >/dev/null
systemctl restart ssh
`

const restoreScript = `set -e
cp -a /root/.hostkeys.bak/ssh_host_* /etc/ssh/
rm -rf /root/.hostkeys.bak
systemctl restart ssh
`

// RegenerateHostKey gives host new SSH host keys (as a reinstalled or
// compromised machine would have) and restores the original ones when the
// test ends.
func (l *Lab) RegenerateHostKey(t testing.TB, host string) {
	t.Helper()
	if out, err := l.Exec(t, host, "sh", "-c", regenScript); err != nil {
		t.Fatalf("regenerate host keys: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := l.Exec(t, host, "sh", "-c", restoreScript); err != nil {
			t.Errorf("restore host keys of %s: %v\n%s", host, err, out)
		}
	})
}
