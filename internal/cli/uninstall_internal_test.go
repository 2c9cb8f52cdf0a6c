package cli

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/phase"
)

// TestPurgeQuestionNamesEveryDirectory pins the purge prompt: each
// directory the hosts' records say goes is named (the root only when a
// host reported it), hosts with the same answer are folded, and unit
// files are counted rather than listed.
func TestPurgeQuestionNamesEveryDirectory(t *testing.T) {
	r := &phase.Run{}
	for _, name := range []string{"im-1", "im-2", "im-3"} {
		r.Hosts = append(r.Hosts, &phase.Host{Config: &config.Host{Name: name}})
	}
	same := []string{"/etc/systemd/system/api@.service", "/etc/systemd/system/im.target", "/srv/im/current", "/srv/im/releases", "/var/lib/openim-deploy/im"}
	got := purgeQuestion(r, "Uninstall and purge im on 3 hosts (im-1..3)", []phase.HostPreview{
		{Host: "im-1", Paths: same},
		{Host: "im-2", Paths: same},
		{Host: "im-3", Paths: []string{"/srv/im/current", "/srv/im/releases", "/var/lib/openim-deploy/im", "/srv/im"}},
	})
	require.Equal(t, `Uninstall and purge im on 3 hosts (im-1..3), removing:
  on im-1..2:
    /srv/im/current
    /srv/im/releases
    /var/lib/openim-deploy/im
    2 unit files in /etc/systemd/system
  on im-3:
    /srv/im/current
    /srv/im/releases
    /var/lib/openim-deploy/im
    /srv/im
Continue?`, got)
}
