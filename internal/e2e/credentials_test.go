package e2e

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/agefile"
	"github.com/openimsdk/openim-deploy/internal/cli"
	"github.com/openimsdk/openim-deploy/internal/lab"
)

// TestCredentialsEncryptedAtRest: a playbook whose secrets come from an
// age-encrypted var file and from a secret command deploys to systemd 252
// hosts as systemd credentials. Each service sees its values (the
// stand-in answers their SHA-256, never the value): the environment
// through the wrapper, the sensitive template in $CREDENTIALS_DIRECTORY.
// Then a search of each host's whole filesystem as root finds neither
// secret in plain text outside the services' in-memory credentials
// directories, and the controller's temp directory holds no decrypted
// copy. Rotating the age-file secret: the plan says "secret changed"
// without the value, and the apply restarts only the service that uses
// it. (A wrong key, a tampered file and a failing command are CLI
// testscripts: secrets_playbook.txtar and config's testdata/age.)
func TestCredentialsEncryptedAtRest(t *testing.T) {
	l := lab.Require(t)
	hosts := []string{"lab-1", "lab-2"}
	d := fresh(t, l, "e2ecred", 26100, hosts...)
	mongo := "mgS" + randomHex(t, 12)
	redis := "rdS" + randomHex(t, 12)

	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	keys := filepath.Join(d.dir, "keys.txt")
	require.NoError(t, os.WriteFile(keys, []byte(id.String()+"\n"), 0o600))
	t.Setenv(agefile.IdentityEnv, keys)
	varFile := filepath.Join(d.dir, "secrets.vars.age")
	writeAgeVars := func(pw string) {
		enc, err := agefile.Encrypt([]byte(fmt.Sprintf("mongo_pw = %q\n", pw)), []age.Recipient{id.Recipient()})
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(varFile, enc, 0o600))
	}
	writeAgeVars(mongo)
	// The command prints the secret from its rot13: neither the playbook
	// nor any controller file holds it in plain text.
	var pairs []string
	for c := 'a'; c <= 'z'; c++ {
		pairs = append(pairs, string(c), string('a'+(c-'a'+13)%26), string(c-32), string('A'+(c-'a'+13)%26))
	}
	rot13 := strings.NewReplacer(pairs...)
	require.NoError(t, os.WriteFile(filepath.Join(d.dir, "db.tpl"), []byte("mongo: ${pw}\n"), 0o644))
	pb := `
variable "bin_dir" { default = "bin" }
variable "mongo_pw" { sensitive = true }
app %[1]q {
  root = "/opt/%[1]s"
  user = "openim"
  %[5]s
}
secret "redis_pw" {
  command = ["sh", "-c", "printf '%%s\n' \"$1\" | tr 'A-Za-z' 'N-ZA-Mn-za-m'", "sh", %[2]q]
}
template "dbconf" {
  source      = "db.tpl"
  destination = "config/db.yml"
  hosts       = ["app"]
  sensitive   = true
  vars        = { pw = var.mongo_pw }
}
service "credmongo" {
  binary             = "${var.bin_dir}/openim-push"
  args               = ["-i", "%%i"]
  hosts              = ["app"]
  files              = ["dbconf"]
  environment        = { STANDIN_PORTS = "%[3]d" }
  secret_environment = { MONGO_PW = var.mongo_pw }
  health {
    http   = "http://127.0.0.1:%[3]d/healthz"
    stable = "1s"
  }
}
service "credredis" {
  binary             = "${var.bin_dir}/openim-push"
  args               = ["-i", "%%i"]
  hosts              = ["app"]
  files              = []
  environment        = { STANDIN_PORTS = "%[4]d" }
  secret_environment = { REDIS_PW = secret.redis_pw }
  health {
    http   = "http://127.0.0.1:%[4]d/healthz"
    stable = "1s"
  }
}
`
	writePlaybook := func(app string) {
		text := fmt.Sprintf(pb, d.app, rot13.Replace(redis), d.base+10, d.base+20, app)
		require.NoError(t, os.WriteFile(filepath.Join(d.dir, "playbook.hcl"), []byte(text), 0o644))
	}

	// First as files (as an older version, or a host before an upgrade),
	// then as credentials: the move retires the release with plain files.
	writePlaybook(`secret_delivery = "file"`)
	res := d.run("apply", "-var-file", varFile)
	require.Equal(t, cli.ExitOK, res.Code, res.Out)
	out, err := l.Exec(t, "lab-1", "grep", "-rlF", mongo, "/opt/e2ecred/releases")
	require.NoError(t, err, "file delivery leaves the plain env file: %s", out)
	writePlaybook("")
	res = d.run("apply", "-var-file", varFile)
	require.Equal(t, cli.ExitOK, res.Code, res.Out)
	require.Contains(t, res.Out, "hold secrets in plain text, now encrypted credentials (no rollback to them)", "the plan names the retired release")
	require.NotContains(t, res.Out, mongo)
	require.NotContains(t, res.Out, redis)

	sum := func(s string) string { return fmt.Sprintf("%x", sha256.Sum256([]byte(s))) }
	get := func(host string, port int, p string) string {
		h := l.Host(t, host)
		c := http.Client{Timeout: 5 * time.Second}
		resp, err := c.Get("http://" + net.JoinHostPort(h.Address, strconv.Itoa(port)) + p)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s %s: %s", host, p, b)
		return strings.TrimSpace(string(b))
	}
	mainPID := func(host, unit string) string {
		out, err := l.Exec(t, host, "systemctl", "show", "-p", "MainPID", "--value", unit)
		require.NoError(t, err, out)
		return strings.TrimSpace(out)
	}
	// Outside the services' credentials (in memory, /run/credentials),
	// /proc and /sys, no file on the host holds either secret: grep -r as
	// root over the whole tree, every filesystem.
	search := `timeout 60 grep -rlsF --exclude-dir=proc --exclude-dir=sys --exclude-dir=credentials -e "$1" -e "$2" /
[ $? -ne 124 ] || echo "search timed out"
exit 0`
	for _, h := range hosts {
		require.Equal(t, sum(mongo), get(h, d.base+10, "/sha256/env/MONGO_PW"), h)
		require.Equal(t, sum("mongo: "+mongo+"\n"), get(h, d.base+10, "/sha256/credential/db.yml"), h)
		require.Equal(t, sum(redis), get(h, d.base+20, "/sha256/env/REDIS_PW"), h)
		out, err = l.Exec(t, h, "sh", "-c", search, "sh", mongo, redis)
		require.NoError(t, err, out)
		require.Empty(t, strings.TrimSpace(out), "files on %s hold a secret in plain text", h)
		// The secrets reached systemd as encrypted credentials, and no
		// plain env file or template is in the release.
		out, err = l.Exec(t, h, "sh", "-c", `cd /opt/e2ecred/current && ls .creds/env .creds/files/config && ! ls env config/db.yml 2>/dev/null`)
		require.NoError(t, err, out)
		require.Contains(t, out, "credmongo.cred")
	}
	controllerHolds(t, os.TempDir(), mongo, redis)

	// Rotate the age-file secret: only credmongo uses it.
	pidMongo, pidRedis := mainPID("lab-1", "credmongo@0.service"), mainPID("lab-1", "credredis@0.service")
	mongo2 := "mgS" + randomHex(t, 12)
	writeAgeVars(mongo2)
	res = d.run("plan", "--detailed-exitcode", "-var-file", varFile)
	require.Equal(t, cli.ExitChanges, res.Code, res.Out)
	require.Contains(t, res.Out, "secret changed: .creds/env/credmongo.cred")
	require.Contains(t, res.Out, "restart credmongo@0.service")
	require.Contains(t, res.Out, "pin credredis@0.service", "moved to the new release without a restart")
	require.NotContains(t, res.Out, "restart credredis@0.service")
	require.NotContains(t, res.Out, mongo2)
	res = d.run("apply", "-var-file", varFile)
	require.Equal(t, cli.ExitOK, res.Code, res.Out)
	require.NotContains(t, res.Out, mongo2)
	require.NotEqual(t, pidMongo, mainPID("lab-1", "credmongo@0.service"), "credmongo uses the rotated secret: restarted")
	require.Equal(t, pidRedis, mainPID("lab-1", "credredis@0.service"), "credredis does not: left running")
	require.Equal(t, sum(mongo2), get("lab-1", d.base+10, "/sha256/env/MONGO_PW"))

	// Unchanged secrets, re-encrypted or not, change nothing.
	res = d.run("plan", "--detailed-exitcode", "-var-file", varFile)
	require.Equal(t, cli.ExitOK, res.Code, res.Out)
}

// controllerHolds fails when a file under dir (the controller's temp
// directory) holds one of the secrets: decrypted copies of age files or a
// secret command's output must never be written. Large files and
// unreadable ones are skipped.
func controllerHolds(t *testing.T, dir string, secrets ...string) {
	t.Helper()
	_ = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return nil
		}
		if info, err := e.Info(); err != nil || info.Size() > 16<<20 {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		for _, s := range secrets {
			require.False(t, bytes.Contains(b, []byte(s)), "controller file %s holds a secret", p)
		}
		return nil
	})
}
