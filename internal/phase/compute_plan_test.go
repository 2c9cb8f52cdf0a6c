package phase

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/plan"
	"github.com/openimsdk/openim-deploy/internal/release"
	"github.com/openimsdk/openim-deploy/internal/target/targettest"
	"github.com/openimsdk/openim-deploy/internal/ui"
)

// TestComputePlanRefusesHostWithForeignFiles: a host whose gathered state
// lists files the app did not write at paths apply would write is taken
// out of the run with an error naming each file and what is in it
// (wrapping release.ErrForeignFile); the other host is planned.
func TestComputePlanRefusesHostWithForeignFiles(t *testing.T) {
	var out bytes.Buffer
	r := &Run{
		Config: &config.Config{Playbook: &config.Playbook{App: config.App{Name: "im", Root: "/opt/im"}}},
		Out:    ui.New(&out, ui.Options{}),
		Opts:   Options{ReleaseID: "20260101T000000Z"},
	}
	for _, name := range []string{"im-1", "im-2"} {
		r.Hosts = append(r.Hosts, &Host{Config: &config.Host{Name: name}, Target: targettest.NewFake(name),
			Desired: plan.Desired{Host: name, Target: "im.target"}})
	}
	r.Hosts[1].Actual.Foreign = []plan.Foreign{
		{Name: "x@.service", Kind: "file", What: "[Unit]"},
		{Name: "x@0.service.d/release.conf", Kind: "file", What: "# Managed by openim-deploy (app=chat): x"},
		{Name: "im.target", Kind: "link", What: "/dev/null"},
		{Name: "y.service", Kind: "other"},
		{Name: "nginx.service", Kind: "shadows", What: "/lib/systemd/system/nginx.service"},
	}
	require.NoError(t, ComputePlan{}.Run(t.Context(), r))

	require.True(t, r.Hosts[0].Usable())
	require.NotNil(t, r.Hosts[0].Plan)
	require.Len(t, r.Plan.Hosts, 1)
	o, err, changes := r.Hosts[1].Result()
	require.Equal(t, OutcomeFailed, o)
	require.Zero(t, changes)
	require.Nil(t, r.Hosts[1].Plan)
	require.ErrorIs(t, err, release.ErrForeignFile)
	var fe *ForeignFilesError
	require.True(t, errors.As(err, &fe))
	require.Equal(t, []string{
		`/etc/systemd/system/x@.service exists and was not written by openim-deploy for app im (first line: "[Unit]")`,
		`/etc/systemd/system/x@0.service.d/release.conf exists and was not written by openim-deploy for app im (it belongs to app chat; first line: "# Managed by openim-deploy (app=chat): x")`,
		`/etc/systemd/system/im.target exists and was not written by openim-deploy for app im (a symbolic link to "/dev/null")`,
		`/etc/systemd/system/y.service exists and was not written by openim-deploy for app im (not a regular file)`,
		`/etc/systemd/system/nginx.service would shadow /lib/systemd/system/nginx.service, a unit openim-deploy did not write for app im`,
	}, fe.Files)
	require.Contains(t, out.String(), `[im-2] error: refused: /etc/systemd/system/x@.service exists`)
}
