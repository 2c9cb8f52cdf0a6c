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
