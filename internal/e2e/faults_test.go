package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/cli"
	"github.com/openimsdk/openim-deploy/internal/lab"
	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/target/remote"
)

// Tests of issue 11 (faults, bad input, security) use the app-name prefix
// "flt" and ports 32000-32999.

// labUser creates a login user on host with the given login shell, the
// lab's key and passwordless sudo, plus, when sshdMatch is not empty, a
// "Match User" block in sshd_config with those settings (sshd reloaded).
// Everything is undone in a cleanup. Idempotent: leftovers of an earlier
// run are removed first.
func labUser(t *testing.T, l *lab.Lab, host, user, shell, sshdMatch string) {
	t.Helper()
	script := `set -e
user=$1 shell=$2 match=$3
begin="# openim-deploy-test $user begin" end="# openim-deploy-test $user end"
sed -i "/^$begin\$/,/^$end\$/d" /etc/ssh/sshd_config
id "$user" >/dev/null 2>&1 && userdel -r "$user" >/dev/null 2>&1 || true
useradd -m -s "$shell" "$user"
install -d -m 700 -o "$user" -g "$user" "/home/$user/.ssh"
install -m 600 -o "$user" -g "$user" /root/.ssh/authorized_keys "/home/$user/.ssh/authorized_keys"
printf '%s ALL=(ALL) NOPASSWD: ALL\n' "$user" > "/etc/sudoers.d/oimtest-$user"
chmod 440 "/etc/sudoers.d/oimtest-$user"
if [ -n "$match" ]; then
	printf '%s\nMatch User %s\n%s\n%s\n' "$begin" "$user" "$match" "$end" >> /etc/ssh/sshd_config
	sshd -t
fi`
	out, err := l.Exec(t, host, "sh", "-c", script, "sh", user, shell, sshdMatch)
	require.NoError(t, err, out)
	if sshdMatch != "" {
		l.RestartSSHD(t, host)
	}
	t.Cleanup(func() {
		undo := `user=$1
begin="# openim-deploy-test $user begin" end="# openim-deploy-test $user end"
if grep -q "^$begin\$" /etc/ssh/sshd_config; then
	sed -i "/^$begin\$/,/^$end\$/d" /etc/ssh/sshd_config
	echo changed
fi
pkill -u "$user" 2>/dev/null
rm -f "/etc/sudoers.d/oimtest-$user"
userdel -r "$user" >/dev/null 2>&1
true`
		out, err := l.Exec(t, host, "sh", "-c", undo, "sh", user)
		if err != nil {
			t.Errorf("remove user %s on %s: %v\n%s", user, host, err, out)
		}
		if strings.Contains(out, "changed") {
			l.RestartSSHD(t, host)
		}
	})
}

// installTcsh installs tcsh on host from a .deb fetched by the
// controller's apt (lab hosts have no network), and removes it in a
// cleanup if it was not there before. It skips the test when the package
// cannot be fetched.
func installTcsh(t *testing.T, l *lab.Lab, host string) {
	t.Helper()
	if out, err := l.Exec(t, host, "sh", "-c", "command -v tcsh"); err == nil && strings.TrimSpace(out) != "" {
		return
	}
	dir := t.TempDir()
	get := exec.Command("apt-get", "download", "tcsh")
	get.Dir = dir
	if out, err := get.CombinedOutput(); err != nil {
		t.Skipf("tcsh package not available to the controller (%v): %s", err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(dir, "tcsh_*.deb"))
	if len(debs) != 1 {
		t.Skipf("apt-get download tcsh gave %v", debs)
	}
	b, err := os.ReadFile(debs[0])
	require.NoError(t, err)
	h := l.Host(t, host)
	// Not /tmp: the host mounts its own tmpfs over the overlay's /tmp.
	dst := filepath.Join(h.Rootfs, "root", "oimtest-tcsh.deb")
	require.NoError(t, os.WriteFile(dst, b, 0o644))
	out, err := l.Exec(t, host, "sh", "-c", "dpkg -i /root/oimtest-tcsh.deb; s=$?; rm -f /root/oimtest-tcsh.deb; exit $s")
	require.NoError(t, err, out)
	t.Cleanup(func() {
		if out, err := l.Exec(t, host, "dpkg", "-r", "tcsh"); err != nil {
			t.Errorf("remove tcsh on %s: %v\n%s", host, err, out)
		}
	})
}

// fresh is newDeploy after clearing what earlier tests may have left on the
// hosts (units of the shared names, their drop-ins): a stale drop-in from
// another app would fail this test for reasons of its own.
func fresh(t *testing.T, l *lab.Lab, app string, base int, hosts ...string) *deploy {
	t.Helper()
	d := newDeploy(t, l, app, base, hosts...)
	d.uninstall()
	return d
}

// asUser rewrites d's inventory to log in as user with become.
func (d *deploy) asUser(user string) {
	d.t.Helper()
	inv := strings.Replace(d.inventory(), `user = "root"`, fmt.Sprintf("user = %q\n  become = true", user), 1)
	require.NoError(d.t, os.WriteFile(filepath.Join(d.dir, "inventory.hcl"), []byte(inv), 0o644))
}

// TestFltLoginShells pins that every remote script works when the deploy
// user's login shell is dash or tcsh: sshd runs each exec request through
// that shell, and tcsh cannot parse multi-line sh scripts. A full apply
// (lock, facts, release, units, gates) and a re-apply with no changes both
// succeed, and a script larger than Linux's 128 KiB argument limit runs.
func TestFltLoginShells(t *testing.T) {
	l := lab.Require(t)
	for i, tc := range []struct{ user, shell string }{
		{"fltdash", "/bin/sh"},
		{"flttcsh", "/usr/bin/tcsh"},
	} {
		t.Run(tc.user, func(t *testing.T) {
			if tc.user == "flttcsh" {
				installTcsh(t, l, "lab-4")
			}
			labUser(t, l, "lab-4", tc.user, tc.shell, "")
			app := fmt.Sprintf("fltsh%d", i)
			d := fresh(t, l, app, 32000+100*i, "lab-4")
			d.asUser(tc.user)
			require.Equal(t, cli.ExitOK, d.run("apply").Code)
			for _, st := range d.show("lab-4", d.units()...) {
				require.Equal(t, "active", st["ActiveState"], st["Id"])
			}
			res := d.run("apply")
			require.Equal(t, cli.ExitOK, res.Code)
			require.Contains(t, res.Out, "Plan: no changes.")

			tg, err := dialLab(t, l, "lab-4", func(c *remote.Config) { c.User = tc.user })
			require.NoError(t, err)
			var big strings.Builder
			for big.Len() < 200<<10 {
				big.WriteString(": a line that pads the script past one argument's limit\n")
			}
			big.WriteString(`printf '%s|%s|%s' "$1" "$2" "$(cat)"`)
			out, err := tg.Run(t.Context(), target.Cmd{Args: []string{"sh", "-c", big.String(), "sh", "a b", "it's $(id)"}, Stdin: strings.NewReader("stdin!")})
			require.NoError(t, err)
			require.Equal(t, "a b|it's $(id)|stdin!", string(out.Stdout))
		})
	}
}

// TestFltSessionLimitAndNoForwarding pins two hardened-sshd cases for one
// deploy user: MaxSessions 2 makes the run use fewer sessions, never
// report the host unreachable; AllowTcpForwarding no is named by
// pre-flight and the tcp/http gates still pass, probed from the host.
func TestFltSessionLimitAndNoForwarding(t *testing.T) {
	l := lab.Require(t)
	labUser(t, l, "lab-5", "fltlim", "/bin/bash", "\tMaxSessions 2\n\tAllowTcpForwarding no")
	d := fresh(t, l, "fltlim", 32200, "lab-5")
	d.asUser("fltlim")
	res := d.run("preflight")
	require.Equal(t, cli.ExitOK, res.Code)
	require.Contains(t, res.Out, "AllowTcpForwarding no")
	res = d.run("apply", "--parallel", "50")
	require.Equal(t, cli.ExitOK, res.Code)
	require.NotContains(t, res.Out, "unreachable:")
	for _, st := range d.show("lab-5", d.units()...) {
		require.Equal(t, "active", st["ActiveState"], st["Id"])
	}
	res = d.run("apply")
	require.Equal(t, cli.ExitOK, res.Code)
	require.Contains(t, res.Out, "Plan: no changes.")
}

// TestFltBastionFanout points 48 inventory hosts (ssh_config aliases of the
// six lab hosts) through one bastion at --parallel 50: the bastion sees one
// SSH connection. The aliases share machine-ids, which pre-flight now
// warns about and goes on; --strict refuses them.
func TestFltBastionFanout(t *testing.T) {
	l := lab.Require(t)
	var names []string
	for _, h := range l.SystemdHosts() {
		names = append(names, h.Name)
	}
	if len(names) < 2 {
		t.Skip("needs at least two systemd lab hosts")
	}
	bastion := l.Host(t, names[0])
	d := fresh(t, l, "fltfan", 32300, names[0])

	var sc, inv strings.Builder
	fmt.Fprintf(&inv, "defaults {\n  user = \"root\"\n  identity = %q\n  known_hosts = %q\n}\n", l.KeyPath, l.KnownHostsPath)
	fmt.Fprintf(&inv, "bastion \"jump\" {\n  address = %q\n  user = \"deploy\"\n}\n", bastion.Address)
	const n = 48
	for i := range n {
		h := l.Host(t, names[i%len(names)])
		alias := fmt.Sprintf("fltfan-%02d", i)
		fmt.Fprintf(&sc, "Host %s\n  HostName %s\n\n", alias, h.Address)
		fmt.Fprintf(&inv, "host %q {\n  address = %q\n  groups = [\"app\"]\n  via = \"jump\"\n}\n", alias, alias)
	}
	scPath := filepath.Join(d.dir, "ssh_config")
	require.NoError(t, os.WriteFile(scPath, []byte(sc.String()), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(d.dir, "inventory.hcl"), []byte(inv.String()), 0o644))

	since := strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10)
	res := d.run("preflight", "--parallel", "50", "--ssh-config", scPath)
	require.Equal(t, cli.ExitOK, res.Code, "duplicate machine-ids are a warning")
	require.Contains(t, res.Out, "warning: machine-id")
	require.NotContains(t, res.Out, "unreachable")

	// sshd logs one "Accepted publickey for deploy" per connection to the
	// bastion; deploy logs in nowhere else in the lab tests.
	out, err := l.Exec(t, bastion.Name, "sh", "-c", `journalctl -u ssh.service --since "@$1" -o cat | grep -c "Accepted publickey for deploy" || true`, "sh", since)
	require.NoError(t, err, out)
	require.Equal(t, "1", strings.TrimSpace(out), "connections to the bastion for %d hosts", n)

	res = d.run("preflight", "--parallel", "50", "--ssh-config", scPath, "--strict")
	require.Equal(t, cli.ExitPreflight, res.Code)
	require.Contains(t, res.Out, "refused by --strict")
}

// injections are values built to run code if any layer hands them to a
// shell unquoted. Each would create a file under /tmp/fltpwned.
var injections = []string{
	"; touch /tmp/fltpwned-semi",
	"$(touch /tmp/fltpwned-subst)",
	"`touch /tmp/fltpwned-tick`",
	`'"; touch /tmp/fltpwned-quote; "'`,
	"a b && touch /tmp/fltpwned-and",
	"../../../tmp/fltpwned-dots",
	`\$(touch /tmp/fltpwned-bs)`,
}

// TestFltInjection pins the two defences against injected values: names,
// users and paths are rejected at validation with a diagnostic before any
// host is contacted; free-form values (arguments, environment) are passed
// through quoted and reach the process verbatim. No marker file appears on
// any host.
func TestFltInjection(t *testing.T) {
	parallelOn(t, "lab-1", "lab-2")
	l := lab.Require(t)
	hosts := []string{"lab-1", "lab-2"}
	d := fresh(t, l, "fltinj", 32400, hosts...)

	// Rejected at validation: a service name, the app user, an instance
	// name and a relative app root, each with an injection.
	bad := fresh(t, l, "fltinjbad", 32450, hosts...)
	bad.playbook = `
service "x; touch /tmp/fltpwned-name" {
  binary = "bin/openim-push"
  hosts  = ["app"]
}
`
	bad.writePlaybook()
	res := bad.runRaw("validate", "-i", filepath.Join(bad.dir, "inventory.hcl"), "-p", filepath.Join(bad.dir, "playbook.hcl"))
	require.NotEqual(t, cli.ExitOK, res.Code)
	require.Contains(t, res.Out, "Invalid service name")
	res = bad.run("apply")
	require.NotEqual(t, cli.ExitOK, res.Code)
	require.NotContains(t, res.Out, "Connect")

	// Passed quoted: every injection as an argument and an environment value.
	var env []string
	for i, v := range injections {
		if strings.ContainsAny(v, "\n") {
			continue
		}
		env = append(env, fmt.Sprintf("INJ%d = %q", i, v))
	}
	var args []string
	for _, v := range injections {
		args = append(args, strconv.Quote(v))
	}
	d.playbook = fmt.Sprintf(`
service "edge" {
  binary      = "bin/openim-push"
  args        = ["-i", "%%i", "-c", "config", %s]
  hosts       = ["app"]
  environment = { %s }
  health { stable = "1s" }
}
`, strings.Join(args, ", "), strings.Join(env, ", "))
	d.writePlaybook()
	res = d.run("apply", "-v")
	require.Equal(t, cli.ExitOK, res.Code)
	for _, h := range hosts {
		// The process got every value verbatim, as separate arguments.
		out, err := l.Exec(t, h, "sh", "-c", `pid=$(systemctl show -p MainPID --value edge@0.service); tr '\0' '\n' < /proc/$pid/cmdline`)
		require.NoError(t, err, out)
		for _, v := range injections {
			require.Contains(t, out, v+"\n", "argument reached the process on %s", h)
		}
	}
	for _, h := range l.Names() {
		out, err := l.Exec(t, h, "sh", "-c", `ls -d /tmp/fltpwned* /fltpwned* /opt/fltinj/*/fltpwned* 2>/dev/null || true`)
		require.NoError(t, err)
		require.Empty(t, strings.TrimSpace(out), "marker files on %s", h)
	}
}

// canary is a secret with every character JSON escapes and the shell
// treats specially. canaryMark is its prefix, which no escaping (JSON,
// systemd environment files) changes: any leak, in any encoding, holds it.
const (
	canary     = `fltS3cr"et\'<&>$(id)`
	canaryMark = "fltS3cr"
)

// TestFltSecrets pins where a secret may appear: only in the 0600
// root-owned environment file. It is absent from the terminal output at
// -v, the JSON output, the plan, unit files, the lock and the command line
// of every process on the hosts during the run.
func TestFltSecrets(t *testing.T) {
	parallelOn(t, "lab-2", "lab-3")
	l := lab.Require(t)
	hosts := []string{"lab-2", "lab-3"}
	d := fresh(t, l, "fltsec", 32500, hosts...)
	d.playbook = `
variable "token" { sensitive = true }
service "edge" {
  binary             = "bin/openim-push"
  args               = ["-i", "%i", "-c", "config"]
  hosts              = ["app"]
  secret_environment = { TOKEN = var.token, LITERAL = "` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(canary) + `-lit" }
  health { stable = "1s" }
}
`
	d.writePlaybook()

	// Sample /proc/*/cmdline on every host while the run lasts. The
	// sampler reads the canary from a file, so its own command line holds
	// only the file name.
	stop := make(chan struct{})
	hits := make(chan string, len(hosts))
	for _, h := range hosts {
		host := l.Host(t, h)
		require.NoError(t, os.WriteFile(filepath.Join(host.Rootfs, "root", "fltcanary"), []byte(canaryMark+"\n"), 0o600))
		go func() {
			var found strings.Builder
			for i := 0; i < 2000; i++ { // bounded: ~2 minutes at most
				select {
				case <-stop:
					hits <- found.String()
					return
				default:
				}
				out, _ := l.Exec(t, h, "sh", "-c", `for f in /proc/[0-9]*/cmdline; do { tr '\0' ' ' < "$f"; } 2>/dev/null; echo; done | grep -F -f /root/fltcanary || true`)
				found.WriteString(out)
			}
			hits <- found.String()
		}()
	}
	res := d.run("apply", "-v", "--output", "json", "-var", "token="+canary)
	resPlan := d.run("plan", "-var", "token="+canary+"x")
	close(stop)
	for range hosts {
		require.Empty(t, <-hits, "canary in a process command line")
	}
	require.Equal(t, cli.ExitOK, res.Code)
	for _, out := range []string{res.Out, resPlan.Out} {
		require.NotContains(t, out, canaryMark)
	}
	for _, h := range hosts {
		out, err := l.Exec(t, h, "sh", "-c", `grep -rlF -f /root/fltcanary /etc/systemd/system /opt/fltsec /var/lib/openim-deploy 2>/dev/null | sort`)
		require.NoError(t, err, out)
		// Credential delivery (systemd 252): the secret is in no file in
		// plain text; a file that held it would have to be root's alone.
		files := strings.Fields(out)
		require.Empty(t, files, "plain secret in files on %s", h)
		for _, f := range files {
			st, err := l.Exec(t, h, "stat", "-c", "%a %U", f)
			require.NoError(t, err)
			require.Equal(t, "600 root", strings.TrimSpace(st), "%s holds the secret on %s", f, h)
			require.NotContains(t, f, "/etc/systemd/system/", "a unit file holds the secret")
			require.NotContains(t, f, ".lock", "the lock holds the secret")
		}
		// systemd hands the wrapper the credential, and the wrapper the
		// service the exact value.
		env, err := l.Exec(t, h, "sh", "-c", `pid=$(systemctl show -p MainPID --value edge@0.service); tr '\0' '\n' < /proc/$pid/environ`)
		require.NoError(t, err)
		require.Contains(t, env, "TOKEN="+canary+"\n")
		require.Contains(t, env, "LITERAL="+canary+"-lit\n")
		_, _ = l.Exec(t, h, "rm", "-f", "/root/fltcanary")
	}
}

// TestFltNetworkCut cuts a host's link in the middle of a command (its
// veth down inside its namespace): keepalives notice the dead peer, the
// command's outcome is reported as unknown and the host as unreachable,
// and nothing hangs. The link is restored in a cleanup; a new connection
// then works.
func TestFltNetworkCut(t *testing.T) {
	l := lab.Require(t)
	h := l.Host(t, "lab-6")
	link := func(state string) error {
		out, err := exec.Command("ip", "netns", "exec", h.Netns, "ip", "link", "set", "eth0", state).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ip link set eth0 %s in %s: %w: %s", state, h.Netns, err, out)
		}
		return nil
	}
	tg, err := dialLab(t, l, h.Name, func(c *remote.Config) { c.KeepaliveInterval, c.KeepaliveMax = 2*time.Second, 3 })
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := link("up"); err != nil {
			t.Error(err)
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := tg.Run(ctx, target.Cmd{Args: []string{"sh", "-c", "echo started; exec sleep 300"}, Stdin: nil})
		done <- err
	}()
	// The command is running once sleep shows up on the host.
	go func() {
		defer close(started)
		for i := 0; i < 200; i++ {
			if out, _ := l.Exec(t, h.Name, "pgrep", "-x", "-f", "sleep 300"); strings.TrimSpace(out) != "" {
				return
			}
		}
	}()
	<-started
	require.NoError(t, link("down"))
	err = <-done
	require.Error(t, err)
	require.NotErrorIs(t, err, context.DeadlineExceeded, "the run waited for its own deadline: keepalives did not notice")
	require.ErrorIs(t, err, target.ErrUnknownOutcome)
	require.ErrorIs(t, err, target.ErrUnreachable)
	_, _ = l.Exec(t, h.Name, "pkill", "-x", "-f", "sleep 300")

	require.NoError(t, link("up"))
	tg2, err := dialLab(t, l, h.Name, nil)
	require.NoError(t, err, "a new connection after the link came back")
	_, err = tg2.Run(t.Context(), target.Cmd{Args: []string{"true"}})
	require.NoError(t, err)
}

// TestFltSilentHost puts a host that accepts TCP and never speaks SSH in an
// inventory with a real one: pre-flight reports it unreachable with the
// handshake budget named, and the real host is still checked.
func TestFltSilentHost(t *testing.T) {
	parallelOn(t, "lab-1")
	l := lab.Require(t)
	d := fresh(t, l, "fltsil", 32600, "lab-1")
	var lc net.ListenConfig
	ln, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		var held []net.Conn // accepted and never answered; closed with ln's test
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	inv := d.inventory() + fmt.Sprintf("host \"silent\" {\n  address = \"127.0.0.1\"\n  port = %d\n  groups = [\"app\"]\n  connect_timeout = \"3s\"\n}\n", port)
	require.NoError(t, os.WriteFile(filepath.Join(d.dir, "inventory.hcl"), []byte(inv), 0o644))
	res := d.run("preflight")
	require.Equal(t, cli.ExitUnreachable, res.Code)
	require.Contains(t, res.Out, "no SSH handshake within 3s")
	require.Contains(t, res.Out, "Debian GNU/Linux 12", "the real host was still checked")
}
