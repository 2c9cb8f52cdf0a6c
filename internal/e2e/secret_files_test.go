package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/cli"
	"github.com/openimsdk/openim-deploy/internal/lab"
)

// TestSecretNeverInAWorldReadableFile: an apply run as
// "openim-deploy -var pw=SECRET apply ...", flags before the subcommand,
// with the secret in a service's secret environment and in a sensitive
// template (derived values too), leaves no file that another user of the
// host can read holding the secret, a value derived from it, or the
// SHA-256 of the env file or the template; the lease, sampled while the
// run holds it, records "apply" and nothing of the command line.
func TestSecretNeverInAWorldReadableFile(t *testing.T) {
	parallelOn(t, "lab-1", "lab-2")
	l := lab.Require(t)
	hosts := []string{"lab-1", "lab-2"}
	d := fresh(t, l, "e2esecf", 21900, hosts...)
	secret := "pwS" + randomHex(t, 12)
	require.NoError(t, os.WriteFile(filepath.Join(d.dir, "creds.tpl"), []byte("pw=${pw}\nup=${up}\n"), 0o644))
	// File delivery, forced (the lab's systemd has credentials): the
	// files must still be root's alone. TestCredentialsEncryptedAtRest
	// covers credential delivery.
	d.secretDelivery = "file"
	d.playbook = `
variable "pw" { sensitive = true }
template "creds" {
  source      = "creds.tpl"
  destination = "secret/creds.txt"
  hosts       = ["app"]
  sensitive   = true
  vars        = { pw = var.pw, up = upper(var.pw) }
}
service "vault" {
  binary             = "${var.bin_dir}/openim-push"
  args               = ["-i", "%i", "-c", "config"]
  hosts              = ["app"]
  secret_environment = { PW = var.pw, PW_UP = upper(var.pw) }
  health { stable = "1s" }
}
`
	d.writePlaybook()

	// Sample the lease on lab-1 for as long as the run lasts: every read
	// is one nsenter round trip, and the loop ends with the run.
	lease := "/var/lib/openim-deploy/" + d.app + ".lock/info"
	done := make(chan struct{})
	var samples []string
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if out, err := l.Exec(t, "lab-1", "cat", lease); err == nil && strings.Contains(out, `"id"`) {
				samples = append(samples, out)
			}
		}
	})
	res := d.runRaw("-var", "pw="+secret, "apply", "-i", filepath.Join(d.dir, "inventory.hcl"),
		"-p", filepath.Join(d.dir, "playbook.hcl"), "--ssh-config", "none")
	close(done)
	wg.Wait()
	require.Equal(t, cli.ExitOK, res.Code, res.Out)
	require.NotContains(t, res.Out, secret)
	require.NotEmpty(t, samples, "the lease was read while the run held it")
	for _, s := range samples {
		require.Contains(t, s, `"command":"apply"`)
		require.NotContains(t, s, secret)
	}

	upper := strings.ToUpper(secret)
	for _, h := range hosts {
		// The secret did reach the host, in files only root reads.
		root := "/opt/" + d.app + "/current/"
		envSum := sha256Of(t, l, h, root+"env/vault.env")
		tplSum := sha256Of(t, l, h, root+"secret/creds.txt")
		found, err := l.Exec(t, h, "grep", "-rlF", upper, "/opt/"+d.app)
		require.NoError(t, err, found)
		require.Contains(t, found, "env/vault.env")

		// No file anyone can read holds it, derived or hashed. -xdev keeps
		// find on each start's own filesystem: /proc and /sys are never
		// walked, /run, /tmp and /dev/shm are walked as their own.
		script := `for d in / /run /tmp /var/tmp /dev/shm; do
	[ -d "$d" ] && find "$d" -xdev -type f -perm -o=r -print0 2>/dev/null
done | xargs -0 grep -lF -e "$1" -e "$2" -e "$3" -e "$4" -- 2>/dev/null
exit 0`
		out, err := l.Exec(t, h, "sh", "-c", script, "sh", secret, upper, envSum, tplSum)
		require.NoError(t, err, out)
		require.Empty(t, strings.TrimSpace(out), "world-readable files on %s hold the secret or its hash", h)
	}
}

func sha256Of(t *testing.T, l *lab.Lab, host, path string) string {
	t.Helper()
	out, err := l.Exec(t, host, "sha256sum", "--", path)
	require.NoError(t, err, out)
	sum, _, _ := strings.Cut(out, " ")
	require.Len(t, sum, 64, out)
	return sum
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}
