package config

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/stretchr/testify/require"
)

// secretsInventory places everything on three hosts.
const secretsInventory = `
host "a-1" { address = "10.0.8.1" }
host "a-2" { address = "10.0.8.2" }
host "a-3" { address = "10.0.8.3" }
`

// loadSecrets writes inventory.hcl, playbook.hcl and files into a fresh
// directory and loads them with runner.
func loadSecrets(t *testing.T, playbook string, files map[string]string, runner SecretRunner) (*Config, hcl.Diagnostics, string) {
	t.Helper()
	dir := t.TempDir()
	files["inventory.hcl"] = secretsInventory
	files["playbook.hcl"] = playbook
	files["bin/api"] = ""
	for name, text := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	}
	cfg, diags := Load(LoadOptions{InventoryPath: filepath.Join(dir, "inventory.hcl"), PlaybookPath: filepath.Join(dir, "playbook.hcl"),
		HomeDir: testHome, SecretRunner: runner})
	return cfg, diags, dir
}

// countingRunner prints "value-of-<argv[1]>\n" and counts its calls per
// argv[1]; it records the directory and whether ctx had a deadline.
type countingRunner struct {
	mu          sync.Mutex
	calls       map[string]int
	dirs        map[string]bool
	noDeadlines int
}

func (c *countingRunner) run(ctx context.Context, dir string, argv []string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[argv[1]]++
	c.dirs[dir] = true
	if _, ok := ctx.Deadline(); !ok {
		c.noDeadlines++
	}
	return []byte("value-of-" + argv[1] + "\n"), nil
}

// TestSecretsRunOncePerLoad pins that a secret's command runs once per
// load however many blocks, hosts and templates use it, in the playbook's
// directory, bounded by a deadline; that a secret nothing refers to never
// runs; and that a secret only a template refers to does.
func TestSecretsRunOncePerLoad(t *testing.T) {
	c := &countingRunner{calls: map[string]int{}, dirs: map[string]bool{}}
	pb := `
secret "shared" { command = ["get", "shared"] }
secret "tpl"    { command = ["get", "tpl"] }
secret "unused" { command = ["get", "unused"] }
app "s" {}
locals { dsn = "db://${secret.shared}" }
template "t" {
  source      = "t.tpl"
  destination = "config/t"
  hosts       = ["all"]
  sensitive   = true
}
service "api" {
  binary             = "bin/api"
  hosts              = ["all"]
  secret_environment = { A = secret.shared, B = local.dsn, C = "${host.name}:${secret.shared}" }
}
task "migrate" {
  binary             = "bin/api"
  hosts              = ["all"]
  secret_environment = { A = secret.shared }
}
`
	cfg, diags, dir := loadSecrets(t, pb, map[string]string{"t.tpl": "${secret.tpl} ${secret.shared} ${host.name}\n"}, c.run)
	require.False(t, diags.HasErrors(), diags.Error())
	require.Equal(t, map[string]int{"shared": 1, "tpl": 1}, c.calls)
	require.Equal(t, map[string]bool{dir: true}, c.dirs)
	require.Zero(t, c.noDeadlines, "every command runs under its timeout")

	hp := cfg.Placement()[1]
	require.Equal(t, "a-2:value-of-shared", hp.Services[0].SecretEnvironment["C"])
	require.Equal(t, "value-of-tpl value-of-shared a-2\n", string(hp.Templates[0].Content))
	require.Contains(t, cfg.Secrets, "value-of-shared")
	require.Contains(t, cfg.Secrets, "value-of-tpl")
	ran := map[string]bool{}
	for _, s := range cfg.Playbook.Secrets {
		ran[s.Name] = s.Ran
	}
	require.Equal(t, map[string]bool{"shared": true, "tpl": true, "unused": false}, ran)
}

// TestSecretsWithoutRunner pins what commands that only read hosts get: no
// command runs, no error comes of it, the values are absent, and a secret
// where none may go is still refused.
func TestSecretsWithoutRunner(t *testing.T) {
	pb := `
secret "pw" { command = ["false"] }
app "s" {}
service "api" {
  binary             = "bin/api"
  hosts              = ["all"]
  secret_environment = { PW = secret.pw, PLAIN = "x" }
}
`
	cfg, diags, _ := loadSecrets(t, pb, map[string]string{}, nil)
	require.False(t, diags.HasErrors(), diags.Error())
	require.False(t, cfg.Playbook.Secrets[0].Ran)
	require.Empty(t, cfg.Playbook.Secrets[0].Value)
	require.NotContains(t, cfg.Placement()[0].Services[0].SecretEnvironment, "PW")

	_, diags, _ = loadSecrets(t, strings.Replace(pb, `secret_environment = { PW = secret.pw, PLAIN = "x" }`, `args = [secret.pw]`, 1), map[string]string{}, nil)
	require.True(t, diags.HasErrors())
	require.Contains(t, diags.Error(), "Sensitive value in args")
}

// TestSecretValueTrimsOneNewline pins that exactly one trailing newline
// (\n or \r\n) is taken off what the command prints; the rest is the
// value.
func TestSecretValueTrimsOneNewline(t *testing.T) {
	for printed, want := range map[string]string{
		"pw":       "pw",
		"pw\n":     "pw",
		"pw\r\n":   "pw",
		"pw\n\n":   "pw\n",
		" pw \n":   " pw ",
		"a\nb\n":   "a\nb",
		"pw\r\n\n": "pw\r\n",
	} {
		runner := func(context.Context, string, []string) ([]byte, error) { return []byte(printed), nil }
		cfg, diags, _ := loadSecrets(t, `
secret "pw" { command = ["get"] }
app "s" {}
template "t" {
  source      = "t.tpl"
  destination = "config/t"
  hosts       = ["a-1"]
  sensitive   = true
}
`, map[string]string{"t.tpl": "${secret.pw}"}, runner)
		require.False(t, diags.HasErrors(), diags.Error())
		require.Equal(t, want, cfg.Playbook.Secrets[0].Value, "%q", printed)
	}
}

// TestSecretFailures pins the message of each way a command fails, as the
// runner reports it: the block's name, the program, how it ended, and
// nothing it printed.
func TestSecretFailures(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{context.DeadlineExceeded, `The command of secret "pw" (vault) did not finish within 10s and was stopped. Raise the block's timeout`},
		{errSecretTooLarge, `The command of secret "pw" (vault) printed more than 1024 KiB.`},
		{errors.New("boom"), `The command of secret "pw" (vault) failed: boom.`},
	} {
		runner := func(context.Context, string, []string) ([]byte, error) { return []byte("leaked-s3cret"), tc.err }
		_, diags, _ := loadSecrets(t, `
secret "pw" {
  command = ["vault", "read"]
  timeout = "10s"
}
app "s" {}
service "api" {
  binary             = "bin/api"
  hosts              = ["all"]
  secret_environment = { PW = secret.pw }
}
`, map[string]string{}, runner)
		require.True(t, diags.HasErrors())
		require.Len(t, diags, 1, diags.Error())
		require.Equal(t, "Secret command failed", diags[0].Summary)
		require.Contains(t, diags[0].Detail, tc.want)
		require.NotContains(t, diags.Error(), "s3cret")
	}
}

// TestSecretOutputNeverShown loads the bad fixture with real commands: a
// command that prints "leaked-s3cret" on stdout and stderr and fails, and
// one whose value ("fine-s3cret") lands where it may not. Neither text is
// in any diagnostic (the source shows them only in pieces).
func TestSecretOutputNeverShown(t *testing.T) {
	wd, err := os.Getwd()
	require.NoError(t, err)
	cfg, diags, _ := loadFixture(t, filepath.Join(wd, "testdata/bad/secrets.txtar"))
	require.True(t, diags.HasErrors())
	text := renderDiags(t, cfg, diags)
	require.Contains(t, text, `secret "failing" (sh) exited with status 3`)
	require.NotContains(t, text, "leaked-s3cret")
	require.NotContains(t, text, "fine-s3cret")
}

// TestExecSecret pins the runner of the command line: stdout is the
// value, stderr is dropped, output past the limit is an error, and a
// command still running when its context ends is stopped. The command
// says it started through a FIFO, so nothing here waits on a clock.
func TestExecSecret(t *testing.T) {
	dir := t.TempDir()
	out, err := ExecSecret(context.Background(), dir, []string{"sh", "-c", "printf out; printf err >&2"})
	require.NoError(t, err)
	require.Equal(t, "out", string(out))

	_, err = ExecSecret(context.Background(), dir, []string{"head", "-c", "1048577", "/dev/zero"})
	require.ErrorIs(t, err, errSecretTooLarge)

	fifo := filepath.Join(dir, "started")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := ExecSecret(ctx, dir, []string{"sh", "-c", `echo > "$0"; exec tail -f /dev/null`, fifo})
		done <- err
	}()
	b, err := os.ReadFile(fifo) // returns once the command has written
	require.NoError(t, err)
	require.Equal(t, "\n", string(b))
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
}

// TestTemplateTextSharedOnlyWhenHostFree pins that a template whose block
// and text do not use host is rendered once and shared by every host (its
// own copy of the Template), while one whose text, or whose vars, use host
// renders per host.
func TestTemplateTextSharedOnlyWhenHostFree(t *testing.T) {
	pb := `
app "s" {}
variable "port" { default = 7000 }
template "shared" {
  source      = "shared.tpl"
  destination = "config/shared"
  hosts       = ["all"]
}
template "text" {
  source      = "text.tpl"
  destination = "config/text"
  hosts       = ["all"]
}
template "vars" {
  source      = "vars.tpl"
  destination = "config/vars"
  hosts       = ["all"]
  vars        = { who = host.name }
}
service "api" {
  binary = "bin/api"
  hosts  = ["all"]
}
`
	cfg, diags, _ := loadSecrets(t, pb, map[string]string{
		"shared.tpl": "port ${var.port}\n",
		"vars.tpl":   "port ${var.port} ${who}\n",
		"text.tpl":   "name ${host.name}\n",
	}, nil)
	require.False(t, diags.HasErrors(), diags.Error())
	got := map[string][]string{}
	var first *Template
	for _, hp := range cfg.Placement() {
		for _, tpl := range hp.Templates {
			got[tpl.Name] = append(got[tpl.Name], string(tpl.Content))
			if tpl.Name == "shared" {
				require.NotSame(t, first, tpl, "each host has its own Template")
				first = tpl
			}
		}
	}
	require.Equal(t, []string{"port 7000\n", "port 7000\n", "port 7000\n"}, got["shared"])
	require.Equal(t, []string{"name a-1\n", "name a-2\n", "name a-3\n"}, got["text"])
	require.Equal(t, []string{"port 7000 a-1\n", "port 7000 a-2\n", "port 7000 a-3\n"}, got["vars"])
}
