package phase

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/target/targettest"
)

// TestUninstallAsksWithWhatThePurgeRemoves pins the purge prompt's
// contract: every host is first asked, read-only, what a purge removes;
// Confirm sees it in inventory order; a refusal ends the phase before any
// host is sent the purge itself.
func TestUninstallAsksWithWhatThePurgeRemoves(t *testing.T) {
	var fakes []*targettest.Fake
	for _, name := range []string{"im-1", "im-2"} {
		f := targettest.NewFake(name)
		f.On(targettest.Regexp(`(?s)# uninstall\.sh .* preview `), targettest.Reply{
			Stdout: "remove /etc/systemd/system/rpc@.service\nremove /opt/demo/current\nremove /opt/demo/releases\nremove /var/lib/openim-deploy/demo\n"})
		fakes = append(fakes, f)
	}
	r, _ := newTestRun(t, 2, false, fakes...)
	refused := errors.New("not confirmed")
	var got []HostPreview
	err := Uninstall{Purge: true, Confirm: func(p []HostPreview) error { got = p; return refused }}.Run(t.Context(), r)
	require.ErrorIs(t, err, refused)
	want := []string{"/etc/systemd/system/rpc@.service", "/opt/demo/current", "/opt/demo/releases", "/var/lib/openim-deploy/demo"}
	require.Equal(t, []HostPreview{{Host: "im-1", Paths: want}, {Host: "im-2", Paths: want}}, got)
	for _, f := range fakes {
		for _, c := range f.Calls() {
			args := c.Cmd.Args // sh -c SCRIPT sh APP ROOT UNITDIR STATEDIR MODE UNIT...
			require.True(t, len(args) > 8 && strings.Contains(args[2], "# uninstall.sh"), "unexpected: %s", c.Line)
			require.Equal(t, "preview", args[8], "only the preview runs before the answer")
		}
	}
}

// TestUninstallRefusesToPurgeASystemRoot: the second check, after
// validation, before any host is contacted.
func TestUninstallRefusesToPurgeASystemRoot(t *testing.T) {
	f := targettest.NewFake("im-1")
	r, _ := newTestRun(t, 1, false, f)
	r.Config.Playbook.App.Root = "/var//lib/"
	err := Uninstall{Purge: true}.Run(t.Context(), r)
	require.ErrorContains(t, err, `refusing to purge app root "/var//lib/": a system or shared directory`)
	require.Empty(t, f.Calls())
}

// TestUninstall_HandsTheScriptOnlyThisAppsNames: without a purge no host
// is asked for a preview; every host is sent the uninstall once, not
// read-only, with the app, its root, the unit directory, the app's own
// state directory (whose record lists what the tool created there) and
// the mode, then exactly the unit names the playbook gives the app: task
// units, service templates, every instance, the target. What a host
// reports is printed and counted; a host with nothing of the app says so
// and counts no change; purge changes only the mode.
func TestUninstall_HandsTheScriptOnlyThisAppsNames(t *testing.T) {
	names := []string{"gate.service", "rpc@.service", "rpc@0.service", "rpc@1.service", "api@.service", "api@0.service", "demo.target"}
	for _, purge := range []bool{false, true} {
		r, out := demoRun(t, "im-1", "im-2")
		installed, empty := targettest.NewFake("im-1"), targettest.NewFake("im-2")
		installed.On(targettest.Contains("# uninstall.sh APP ROOT"), targettest.Reply{
			Stdout: "stopped and disabled rpc@0.service\nremoved /etc/systemd/system/rpc@.service\n"})
		empty.On(targettest.Contains("# uninstall.sh APP ROOT"), targettest.Reply{})
		r.Hosts[0].Target, r.Hosts[1].Target = installed, empty

		require.NoError(t, Uninstall{Purge: purge}.Run(t.Context(), r))

		mode := "units"
		if purge {
			mode = "purge"
		}
		for _, f := range []*targettest.Fake{installed, empty} {
			calls := f.Calls()
			require.Len(t, calls, 1, "%s: no preview without a prompt", f.Name())
			require.False(t, calls[0].Cmd.ReadOnly)
			require.Equal(t, append([]string{"demo", "/opt/demo", "/etc/systemd/system", "/var/lib/openim-deploy/demo", mode}, names...),
				calls[0].Cmd.Args[4:])
		}
		require.Contains(t, out.String(), "[im-1] removed /etc/systemd/system/rpc@.service")
		require.Contains(t, out.String(), "[im-2] nothing of demo is installed")
		o, _, n := r.Hosts[0].Result()
		require.Equal(t, OutcomeChanged, o)
		require.Equal(t, 2, n)
		o, _, n = r.Hosts[1].Result()
		require.Equal(t, OutcomeOK, o)
		require.Zero(t, n)
	}
}

// TestUninstall_FailedHostFailsAloneAndIsNamed: a host whose uninstall
// fails is failed and named in the phase's error; the other host is
// uninstalled all the same.
func TestUninstall_FailedHostFailsAloneAndIsNamed(t *testing.T) {
	r, _ := demoRun(t, "im-1", "im-2")
	bad, good := targettest.NewFake("im-1"), targettest.NewFake("im-2")
	bad.On(targettest.Contains("# uninstall.sh APP ROOT"), targettest.Reply{Code: 1, Stderr: "Failed to stop rpc@0.service: Access denied"})
	good.On(targettest.Contains("# uninstall.sh APP ROOT"), targettest.Reply{Stdout: "removed /etc/systemd/system/demo.target\n"})
	r.Hosts[0].Target, r.Hosts[1].Target = bad, good
	err := Uninstall{}.Run(t.Context(), r)
	require.ErrorContains(t, err, "im-1: uninstall: ")
	require.NotContains(t, err.Error(), "im-2")
	o, _, _ := r.Hosts[0].Result()
	require.Equal(t, OutcomeFailed, o)
	o, _, _ = r.Hosts[1].Result()
	require.Equal(t, OutcomeChanged, o)
}

// TestUninstall_KeptIsNotAChange: what the script says it keeps (an
// operator's file in a drop-in directory) is printed but is no change, so
// a second uninstall of what is already gone reports ok, not changed.
func TestUninstall_KeptIsNotAChange(t *testing.T) {
	r, out := demoRun(t, "im-1")
	f := targettest.NewFake("im-1")
	f.On(targettest.Contains("# uninstall.sh APP ROOT"), targettest.Reply{
		Stdout: "kept /etc/systemd/system/rpc@0.service.d/: it holds files openim-deploy did not write\n"})
	r.Hosts[0].Target = f
	require.NoError(t, Uninstall{}.Run(t.Context(), r))
	require.Contains(t, out.String(), "[im-1] kept /etc/systemd/system/rpc@0.service.d/")
	o, _, n := r.Hosts[0].Result()
	require.Equal(t, OutcomeOK, o)
	require.Zero(t, n)
}
