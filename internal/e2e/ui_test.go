package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/cli"
	"github.com/openimsdk/openim-deploy/internal/lab"
)

// TestUI_ColdPlanSummaryAndStatusLine pins the output a person sees on
// real hosts: a cold plan reads as one line per new service (-v lists
// every action); an apply whose stdout is not a terminal prints no status
// line at all; one on a pseudo-terminal shows the health gates it waits
// on, erased before every normal line.
func TestUI_ColdPlanSummaryAndStatusLine(t *testing.T) {
	parallelOn(t, "lab-1", "lab-2")
	l := lab.Require(t)
	d := newDeploy(t, l, "e2eui", 24000, "lab-1", "lab-2")

	res := d.run("plan")
	require.Equal(t, cli.ExitOK, res.Code)
	// Every stand-in binary is the same file: the first one (the gate's)
	// is sent, the others are linked to it and send nothing.
	require.Regexp(t, `\[lab-1\.\.2\] \+ gate: 1 file \([0-9.]+ MiB\), 1 unit, run once\n`, res.Out)
	require.Contains(t, res.Out, "[lab-1..2] + 1 file (")
	require.Contains(t, res.Out, ") shared by the new units\n")
	require.Contains(t, res.Out, "[lab-1..2] + backend: 1 file (nothing to send), 1 unit, 2 instances to start\n")
	require.Contains(t, res.Out, "[lab-1..2] + api: 1 file (nothing to send), 1 unit, 1 instance to start\n")
	require.NotContains(t, res.Out, "start backend@0.service")
	verbose := d.run("plan", "-v")
	require.Contains(t, verbose.Out, "[lab-1..2] + start backend@0.service (not running)\n")

	res = d.run("apply")
	require.Equal(t, cli.ExitOK, res.Code)
	for _, s := range []string{"\r", "\x1b[", "uploading:", "waiting for health"} {
		require.NotContains(t, res.Out, s, "no status line off a terminal")
	}

	script, err := exec.LookPath("script")
	if err != nil {
		t.Log("no script(1) to run a pseudo-terminal: the terminal half is not checked")
		return
	}
	d.appendBin("openim-api") // api restarts, gated
	args := []string{os.Args[0], "apply", "-i", filepath.Join(d.dir, "inventory.hcl"), "-p", filepath.Join(d.dir, "playbook.hcl"), "--ssh-config", "none"}
	for i, a := range args {
		args[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, script, "-qec", "stty cols 200; "+strings.Join(args, " "), "/dev/null")
	cmd.Env = append(os.Environ(), "OPENIM_E2E_AS_CLI=1", "TERM=xterm")
	b, err := cmd.CombinedOutput()
	out := string(b)
	t.Logf("apply on a pseudo-terminal:\n%q", out)
	require.NoError(t, err, out)
	require.Contains(t, out, "\rwaiting for health: api@0 on [lab-")
	for _, line := range strings.Split(out, "\n") {
		text := line
		if i := strings.LastIndex(line, "\r\x1b[K"); i >= 0 {
			text = line[i+len("\r\x1b[K"):]
		}
		require.NotContains(t, text, "waiting for health", "a status line was not erased before %q", text)
	}
	require.Contains(t, out, "==> Recap")
}
