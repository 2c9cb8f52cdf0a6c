package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/cli"
	"github.com/openimsdk/openim-deploy/internal/lab"
)

// journalEntry is one record of "journalctl -o json".
type journalEntry struct {
	Realtime string `json:"__REALTIME_TIMESTAMP"`
	Unit     string `json:"_SYSTEMD_UNIT"`
	ObjUnit  string `json:"UNIT"` // systemd's own messages about a unit
	Ident    string `json:"SYSLOG_IDENTIFIER"`
	Message  any    `json:"MESSAGE"` // a string, or bytes for non-UTF-8
}

func (e journalEntry) at(t *testing.T) time.Time {
	us, err := strconv.ParseInt(e.Realtime, 10, 64)
	require.NoError(t, err)
	return time.UnixMicro(us)
}

func (e journalEntry) msg() string { s, _ := e.Message.(string); return s }

// TestReadinessSurvivesReboot: units wait for their own health check, so
// after a host reboots (no openim-deploy running), a dependent starts only
// once its same-host dependency answers. backend takes 3 s to listen
// (the stand-in's start_delay); api depends on it. After "lab.sh restart",
// the journal of the new boot shows each backend instance's probe
// answering at least 3 s after the instance started, and api's first
// record (systemd's "Starting", then its process) after both answered.
// The stop settings reach the unit as KillSignal= and TimeoutStopSec=.
func TestReadinessSurvivesReboot(t *testing.T) {
	l := lab.Require(t)
	const host = "lab-6"
	d := fresh(t, l, "e2eready", 25100, host)
	keepHostUp(t, l, host)
	b := d.base
	cfg := fmt.Sprintf(`{
  "openim-rpc-user": {"ports": [%d, %d], "start_delay": "3s"},
  "openim-api": {"ports": [%d]},
  "openim-crontask": {}
}
`, b, b+1, b+10)
	require.NoError(t, os.WriteFile(filepath.Join(d.dir, "config", "standin.json"), []byte(cfg), 0o644))
	replaceInFile(t, d, fmt.Sprintf("tcp    = \"127.0.0.1:${%d + instance.index}\"", b),
		fmt.Sprintf("tcp    = \"127.0.0.1:${%d + instance.index}\"\n    interval = \"200ms\"", b))
	replaceInFile(t, d, "depends_on = [\"backend\"]", "depends_on = [\"backend\"]\n  stop_signal = \"SIGINT\"\n  stop_timeout = \"15s\"")
	require.Equal(t, cli.ExitOK, d.run("apply").Code)

	out, err := l.Exec(t, host, "systemctl", "show", "-p", "KillSignal,TimeoutStopUSec,TimeoutStartUSec", "api@0.service")
	require.NoError(t, err, out)
	require.Contains(t, out, "KillSignal=2\n")
	require.Contains(t, out, "TimeoutStopUSec=15s\n")
	out, err = l.Exec(t, host, "systemctl", "cat", "backend@0.service")
	require.NoError(t, err, out)
	require.Contains(t, out, "ExecStartPost=/opt/e2eready/releases/")
	require.Contains(t, out, "/probe/openim-probe.%a probe/backend.json %i\n")

	labCtl(t, l, "restart", host)
	waitFor(t, 60*time.Second, "api@0 active after the reboot", func() bool {
		out, err := l.Exec(t, host, "systemctl", "is-active", "api@0.service")
		return err == nil && strings.TrimSpace(out) == "active"
	})

	out, err = l.Exec(t, host, "journalctl", "-b", "-o", "json", "--no-pager",
		"-u", "backend@0.service", "-u", "backend@1.service", "-u", "api@0.service")
	require.NoError(t, err)
	var started, ready = map[string]time.Time{}, map[string]time.Time{}
	var apiFirst time.Time
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e journalEntry
		require.NoError(t, json.Unmarshal([]byte(line), &e), line)
		unit := e.Unit
		if unit == "" || unit == "init.scope" {
			unit = e.ObjUnit
		}
		at := e.at(t)
		switch {
		case unit == "api@0.service":
			if apiFirst.IsZero() {
				apiFirst = at
				t.Logf("api@0 first record %s: %s", at.Format(time.StampMicro), e.msg())
			}
		case strings.HasPrefix(unit, "backend@"):
			if strings.Contains(e.msg(), "starting (pid") {
				started[unit] = at
			}
			if strings.HasPrefix(e.Ident, "openim-probe") && strings.HasPrefix(e.msg(), "ready: ") {
				ready[unit] = at
				t.Logf("%s %s: %s", unit, at.Format(time.StampMicro), e.msg())
			}
		}
	}
	require.False(t, apiFirst.IsZero(), "api@0 has records in this boot")
	for _, u := range []string{"backend@0.service", "backend@1.service"} {
		require.False(t, ready[u].IsZero(), "%s's probe answered in this boot:\n%s", u, out)
		require.False(t, started[u].IsZero(), "%s started in this boot", u)
		require.GreaterOrEqual(t, ready[u].Sub(started[u]), 2900*time.Millisecond, "%s was ready only after its 3 s delay", u)
		require.True(t, apiFirst.After(ready[u]), "api@0 started (%s) after %s answered (%s)",
			apiFirst.Format(time.StampMicro), u, ready[u].Format(time.StampMicro))
	}
	// The host is back and reachable, and the tool sees it converged.
	require.Contains(t, d.run("apply").Out, "Plan: no changes.")
}
