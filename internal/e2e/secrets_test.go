package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/cli"
	"github.com/openimsdk/openim-deploy/internal/lab"
)

// TestSecretNotInFailedGateJournalOrDebugLog: a service that prints its
// secret and dies fails its gate, and the journal lines the run prints
// about it (with -vv and --output json) show the line with the secret
// redacted; the run's debug log does not hold it either.
func TestSecretNotInFailedGateJournalOrDebugLog(t *testing.T) {
	l := lab.Require(t)
	d := fresh(t, l, "e2esecj", 21800, "lab-1")
	d.writeBin("leak", "#!/bin/sh\necho \"leaking token=$TOKEN\"\nexit 1\n")
	d.playbook = `
variable "token" { sensitive = true }
service "leak" {
  binary             = "${var.bin_dir}/leak"
  hosts              = ["app"]
  files              = []
  secret_environment = { TOKEN = var.token }
  health {
    stable  = "1s"
    retries = 3
  }
}
`
	d.writePlaybook()
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	res := d.run("apply", "-vv", "--output", "json", "-var", "token="+canary)
	require.NotEqual(t, cli.ExitOK, res.Code)
	require.Contains(t, res.Out, "health gate failed")
	require.Contains(t, res.Out, "leaking token=", "the journal of the failed gate is printed")
	require.NotContains(t, res.Out, canaryMark)
	logs, err := filepath.Glob(filepath.Join(state, "openim-deploy", "*.log"))
	require.NoError(t, err)
	require.NotEmpty(t, logs, "the run wrote a debug log")
	for _, f := range logs {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		require.False(t, strings.Contains(string(b), canaryMark), "the debug log %s holds the secret", f)
	}
}
