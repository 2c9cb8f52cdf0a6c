package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"filippo.io/age"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/spf13/cobra"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/openimsdk/openim-deploy/internal/agefile"
)

func newSecretsCommand(stdio IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "Encrypt, decrypt and edit age-encrypted var files (FILE.age)",
		Long: `secrets manages var files encrypted with age (https://age-encryption.org).
A var file whose name ends in .age is decrypted in memory wherever -var-file
takes one, and every value from it is sensitive.

The key that decrypts is read from $OPENIM_DEPLOY_AGE_IDENTITY, else from
$XDG_CONFIG_HOME/openim-deploy/age/keys.txt (~/.config/... when unset): an
age identity file (age-keygen -o FILE) or an SSH ed25519 or RSA private key
without a passphrase.

Whom a file is encrypted to is listed beside it, in FILE.age.recipients: one
age public key (age1...) or SSH public key a line, # comments allowed (the
format of age -R). Commit it with the file: edit re-encrypts to exactly that
list, so adding or removing a person is a change to it and one edit, or:

  openim-deploy secrets decrypt F.age | openim-deploy secrets encrypt -o F.age`,
		Example: `  openim-deploy secrets edit secrets/prod.vars.age
  openim-deploy secrets encrypt -o secrets/prod.vars.age < prod.vars
  openim-deploy secrets decrypt secrets/prod.vars.age | grep -c =
  openim-deploy apply -i inventory/prod.hcl -var-file secrets/prod.vars.age`,
		// Runnable, so a mistyped subcommand is an error, not this help.
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return errors.New("secrets needs a command: edit, encrypt or decrypt (openim-deploy secrets --help)")
		},
	}
	cmd.AddCommand(newSecretsEncryptCommand(stdio), newSecretsDecryptCommand(stdio), newSecretsEditCommand(stdio))
	return cmd
}

func newSecretsEncryptCommand(stdio IO) *cobra.Command {
	var out string
	var recipients, recipientFiles []string
	cmd := &cobra.Command{
		Use:   "encrypt [-o FILE.age] [-r RECIPIENT]... [-R FILE]... [INPUT]",
		Short: "Encrypt a var file with age, ASCII-armored",
		Long: `encrypt reads INPUT (stdin when absent or -) and writes it encrypted with age,
ASCII-armored, to -o FILE.age (replaced whole, never half-written) or stdout.

It encrypts to the recipients given with -r (a public key) and -R (a
recipients file), else to those listed in FILE.age.recipients, else to the
public keys of your own identity. With -o, FILE.age.recipients is written
when it does not exist, so the next edit encrypts to the same people; when
it exists, -r and -R must name exactly the keys it lists.`,
		Example: `  openim-deploy secrets encrypt -o prod.vars.age prod.vars && shred -u prod.vars
  vault kv get -format=json secret/openim | jq -r '...' | openim-deploy secrets encrypt -o prod.vars.age
  openim-deploy secrets encrypt -r age1... -r "$(cat ~/.ssh/id_ed25519.pub)" < prod.vars > prod.vars.age`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out != "" && !agefile.IsEncrypted(out) {
				return usageErrorf("-o %s: the name must end in .age, or -var-file will not decrypt it", out)
			}
			plain, name, err := readInput(stdio, args)
			if err != nil {
				return err
			}
			defer clear(plain)
			recs, err := encryptRecipients(stdio, out, recipients, recipientFiles)
			if err != nil {
				return err
			}
			ct, err := agefile.Encrypt(plain, recs.list)
			if err != nil {
				return fmt.Errorf("encrypt %s: %w", name, err)
			}
			if out == "" {
				_, err := stdio.Out.Write(ct)
				return err
			}
			if err := writeAtomic(out, ct); err != nil {
				return err
			}
			return recs.finish(stdio, out)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&out, "output", "o", "", "write to FILE.age (atomically) instead of stdout")
	f.StringArrayVarP(&recipients, "recipient", "r", nil, "encrypt to this public key: age1... or an SSH public key line (repeatable)")
	f.StringArrayVarP(&recipientFiles, "recipients-file", "R", nil, "encrypt to the keys listed in FILE, one a line (repeatable)")
	return cmd
}

func newSecretsDecryptCommand(stdio IO) *cobra.Command {
	var out string
	var toTerminal bool
	cmd := &cobra.Command{
		Use:   "decrypt [-o FILE] [--to-terminal] [INPUT]",
		Short: "Decrypt an age-encrypted file to stdout or a file",
		Long: `decrypt reads INPUT (stdin when absent or -), decrypts it with your identity
and writes the plain text to stdout, or to -o FILE with mode 0600. That file
is plain text on disk: prefer a pipe, or secrets edit.

It refuses to print to a terminal, where the secrets would stay in the
scrollback and on screen, unless --to-terminal says that is meant. A wrong
key, or a file that is truncated or was changed, is an error naming the
file (exit 3), and nothing of it is written.`,
		Example: `  openim-deploy secrets decrypt prod.vars.age | grep -c =
  openim-deploy secrets decrypt prod.vars.age | openim-deploy secrets encrypt -o prod.vars.age`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" && !toTerminal && outputIsTerminal(stdio.Out) {
				return errors.New("refusing to print secrets to a terminal: pipe the output, write it with -o FILE, look with secrets edit, or pass --to-terminal")
			}
			ct, name, err := readInput(stdio, args)
			if err != nil {
				return err
			}
			ids, err := loadIdentities(stdio)
			if err != nil {
				return err
			}
			plain, err := decryptNamed(ct, name, ids)
			if err != nil {
				return err
			}
			defer clear(plain)
			if out == "" {
				_, err := stdio.Out.Write(plain)
				return err
			}
			return writeFileMode(out, plain, 0o600)
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the plain text to FILE, mode 0600")
	cmd.Flags().BoolVar(&toTerminal, "to-terminal", false, "print to stdout even when it is a terminal")
	return cmd
}

func newSecretsEditCommand(stdio IO) *cobra.Command {
	return &cobra.Command{
		Use:   "edit FILE.age",
		Short: "Edit an age-encrypted var file in $EDITOR, re-encrypting it on save",
		Long: `edit decrypts FILE.age into a file only you can read (mode 0600, in a fresh
directory of mode 0700 under $XDG_RUNTIME_DIR or /dev/shm, memory-backed,
when they exist, else $TMPDIR), opens $VISUAL or $EDITOR (else vi) on it,
and when the editor exits 0 with the text changed, checks it is a var file
(name = "value" lines) and encrypts it to the recipients in
FILE.age.recipients. The directory is removed whatever happens: an editor
that fails, a text that does not parse, SIGTERM or SIGHUP (the editor is
stopped first). Ctrl-C is the editor's while it runs: it never ends this
process with the plain text left behind.

A FILE.age that does not exist is created, encrypted to the recipients in
FILE.age.recipients, or to your own public key, which is then written
there. An unchanged text writes nothing (age output differs every time, so
version control would show a change that is none). A text that does not
parse is reported by line and column; on a terminal you are asked to edit
it again, else nothing is written (exit 3).`,
		Example: `  openim-deploy secrets edit secrets/prod.vars.age
  EDITOR="code --wait" openim-deploy secrets edit secrets/prod.vars.age`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// The process's own handlers are dropped first: the run's
			// watcher exits at the third Ctrl-C, and here that would leave
			// the plain text on disk. SIGINT is then caught and dropped
			// (the editor, in the foreground, gets its own), SIGTERM and
			// SIGHUP stop the editor and clean up.
			signal.Ignore(os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
			intr := make(chan os.Signal, 1)
			signal.Notify(intr, os.Interrupt)
			defer signal.Stop(intr)
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGHUP)
			defer stop()
			return editSecrets(ctx, stdio, args[0], isTerminal(stdio.In))
		},
	}
}

// editSecrets is secrets edit once signals are seen to: interactive says
// whether to offer another edit when the text does not parse.
func editSecrets(ctx context.Context, stdio IO, file string, interactive bool) error {
	if !agefile.IsEncrypted(file) {
		return usageErrorf("%s: the name must end in .age, or -var-file will not decrypt it", file)
	}
	ids, err := loadIdentities(stdio)
	if err != nil {
		return err
	}
	var plain []byte
	ct, err := agefile.ReadFile(file)
	exists := err == nil
	switch {
	case errors.Is(err, os.ErrNotExist):
		plain = []byte("# Variables for the playbook, one a line: name = \"value\".\n# Saved encrypted to the keys in " + filepath.Base(agefile.RecipientsPath(file)) + ".\n")
	case err != nil:
		return usageErrorf("%s cannot be read: %v", file, unwrapPathErr(err))
	default:
		if plain, err = decryptNamed(ct, file, ids); err != nil {
			return err
		}
	}
	defer clear(plain)
	recs, err := editRecipients(file, exists, ids)
	if err != nil {
		return err
	}

	dir, err := os.MkdirTemp(privateTempDir(stdio.Environ), "openim-deploy-edit-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// The editor sees the name without .age, so it highlights the text
	// as what it is.
	tmp := filepath.Join(dir, strings.TrimSuffix(filepath.Base(file), agefile.Ext))
	if err := writeNew(tmp, plain); err != nil {
		return err
	}
	for {
		done, err := editOnce(ctx, stdio, file, tmp, plain, recs)
		if done || err != nil {
			return err
		}
		if !interactive || !askAgain(stdio) {
			return usageErrorf("%s is not a valid var file; nothing was written", file)
		}
	}
}

// editOnce runs the editor on tmp and, when the text changed and is a var
// file, encrypts it to file. It returns false, and prints the problems,
// when the text is not a var file.
func editOnce(ctx context.Context, stdio IO, file, tmp string, plain []byte, recs recipientSet) (bool, error) {
	if err := runEditor(ctx, stdio, tmp); err != nil {
		return true, err
	}
	edited, err := os.ReadFile(tmp)
	if err != nil {
		return true, err
	}
	defer clear(edited)
	if bytes.Equal(edited, plain) {
		fmt.Fprintf(stdio.Out, "%s: unchanged, nothing written\n", file)
		return true, nil
	}
	if diags := checkVarFile(edited, file); diags.HasErrors() {
		writeShort(stdio.Err, diags)
		return false, nil
	}
	ct, err := agefile.Encrypt(edited, recs.list)
	if err != nil {
		return true, err
	}
	if err := writeAtomic(file, ct); err != nil {
		return true, err
	}
	return true, recs.finish(stdio, file)
}

// runEditor runs $VISUAL or $EDITOR (split on blanks, no shell) on path,
// on the terminal. ctx ending (SIGTERM, SIGHUP) sends the editor SIGTERM.
func runEditor(ctx context.Context, stdio IO, path string) error {
	words := strings.Fields(lookupEnv(stdio.Environ, "VISUAL"))
	if len(words) == 0 {
		words = strings.Fields(lookupEnv(stdio.Environ, "EDITOR"))
	}
	if len(words) == 0 {
		words = []string{"vi"}
	}
	cmd := exec.CommandContext(ctx, words[0], append(words[1:], path)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio.In, stdio.Out, stdio.Err
	cmd.Env = stdio.Environ
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: the editor was stopped and nothing was written: %w", context.Canceled)
	}
	if err != nil {
		return fmt.Errorf("the editor (%s) failed: %v; nothing was written", words[0], err)
	}
	return nil
}

// askAgain asks on the terminal whether to edit the text again.
func askAgain(stdio IO) bool {
	fmt.Fprint(stdio.Err, "Edit again? [Y/n] ")
	line, err := bufio.NewReader(stdio.In).ReadString('\n')
	if err != nil && line == "" {
		return false
	}
	answer := strings.ToLower(strings.TrimSpace(line))
	return answer == "" || answer == "y" || answer == "yes"
}

// checkVarFile reports what -var-file would refuse in text: HCL syntax,
// and values that are not strings, numbers or bools. The diagnostics
// carry positions, never a line of the text.
func checkVarFile(text []byte, name string) hcl.Diagnostics {
	f, diags := hclsyntax.ParseConfig(text, name, hcl.InitialPos)
	if diags.HasErrors() {
		return diags
	}
	attrs, more := f.Body.JustAttributes()
	diags = append(diags, more...)
	for _, a := range attrs {
		v, d := a.Expr.Value(nil)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		if _, err := convert.Convert(v, cty.String); err != nil || v.IsNull() {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid variable value",
				Detail: "Variable values must be strings, numbers or bools.", Subject: a.Expr.Range().Ptr()})
		}
	}
	slices.SortStableFunc(diags, func(a, b *hcl.Diagnostic) int {
		if a.Subject == nil || b.Subject == nil {
			return 0
		}
		return a.Subject.Start.Byte - b.Subject.Start.Byte
	})
	return diags
}

// recipientSet is what a file is encrypted to and where that came from.
type recipientSet struct {
	list  []age.Recipient
	lines []string
	// write is set when FILE.recipients does not exist yet and is to be
	// written with lines once FILE is.
	write bool
}

// finish writes the recipients file when it is new and says what was done.
func (r recipientSet) finish(stdio IO, file string) error {
	side := agefile.RecipientsPath(file)
	if r.write {
		text := "# Recipients of " + filepath.Base(file) + ": one age public key (age1...) or SSH public key a line.\n" +
			"# openim-deploy secrets edit and secrets encrypt -o encrypt to every one of them.\n" +
			strings.Join(r.lines, "\n") + "\n"
		if err := writeAtomic(side, []byte(text)); err != nil {
			return err
		}
		fmt.Fprintf(stdio.Out, "%s: encrypted to %s, now listed in %s\n", file, plural(len(r.list), "recipient"), side)
		return nil
	}
	fmt.Fprintf(stdio.Out, "%s: encrypted to %s listed in %s\n", file, plural(len(r.list), "recipient"), side)
	return nil
}

// encryptRecipients chooses whom encrypt encrypts to: -r and -R, else the
// recipients file of -o, else the public keys of the identity.
func encryptRecipients(stdio IO, out string, keys, files []string) (recipientSet, error) {
	var given recipientSet
	for _, k := range keys {
		r, err := agefile.ParseRecipient(strings.TrimSpace(k))
		if err != nil {
			return recipientSet{}, usageErrorf("-r: %v", err)
		}
		given.list = append(given.list, r)
		given.lines = append(given.lines, strings.TrimSpace(k))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return recipientSet{}, usageErrorf("-R %s: %v", f, unwrapPathErr(err))
		}
		list, lines, err := agefile.ParseRecipients(b, f)
		if err != nil {
			return recipientSet{}, usageErrorf("-R %v", err)
		}
		given.list = append(given.list, list...)
		given.lines = append(given.lines, lines...)
	}
	if out == "" {
		if len(given.list) > 0 {
			return given, nil
		}
		ids, err := loadIdentities(stdio)
		if err != nil {
			return recipientSet{}, err
		}
		return identityRecipients(ids)
	}
	listed, err := readRecipientsFile(out)
	switch {
	case errors.Is(err, os.ErrNotExist) && len(given.list) > 0:
		given.write = true
		return given, nil
	case errors.Is(err, os.ErrNotExist):
		ids, err := loadIdentities(stdio)
		if err != nil {
			return recipientSet{}, err
		}
		r, err := identityRecipients(ids)
		r.write = true
		return r, err
	case err != nil:
		return recipientSet{}, err
	case len(given.list) > 0 && !sameKeys(given.lines, listed.lines):
		return recipientSet{}, usageErrorf("%s lists other recipients than -r and -R give: change that file (everyone who decrypts %s is there), or leave -r and -R out", agefile.RecipientsPath(out), out)
	}
	return listed, nil
}

// editRecipients chooses whom edit encrypts to: the recipients file, which
// an existing FILE must have (its recipients cannot be read from it, and
// encrypting to yourself alone would lock everyone else out), else the
// identity's own public keys.
func editRecipients(file string, exists bool, ids *agefile.Identities) (recipientSet, error) {
	listed, err := readRecipientsFile(file)
	switch {
	case errors.Is(err, os.ErrNotExist) && exists:
		side := agefile.RecipientsPath(file)
		return recipientSet{}, usageErrorf("%s does not exist: it lists whom %s is encrypted to, which age cannot tell from the file. Create it, one public key a line (age-keygen -y %s prints yours), with everyone who must decrypt it", side, file, ids.Path)
	case errors.Is(err, os.ErrNotExist):
		r, err := identityRecipients(ids)
		r.write = true
		return r, err
	}
	return listed, err
}

func readRecipientsFile(file string) (recipientSet, error) {
	side := agefile.RecipientsPath(file)
	b, err := os.ReadFile(side)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return recipientSet{}, err
		}
		return recipientSet{}, usageErrorf("%s cannot be read: %v", side, unwrapPathErr(err))
	}
	list, lines, err := agefile.ParseRecipients(b, side)
	if err != nil {
		return recipientSet{}, usageErrorf("%v", err)
	}
	return recipientSet{list: list, lines: lines}, nil
}

func identityRecipients(ids *agefile.Identities) (recipientSet, error) {
	var r recipientSet
	for _, line := range ids.Recipients() {
		rec, err := agefile.ParseRecipient(line)
		if err != nil {
			return recipientSet{}, fmt.Errorf("the public key of %s: %v", ids.Path, err)
		}
		r.list = append(r.list, rec)
		r.lines = append(r.lines, line)
	}
	return r, nil
}

// sameKeys compares two lists of public keys as sets.
func sameKeys(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// loadIdentities reads the identity file the environment names.
func loadIdentities(stdio IO) (*agefile.Identities, error) {
	home := lookupEnv(stdio.Environ, "HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	ids, err := agefile.LoadIdentities(agefile.IdentityPath(stdio.Environ, home))
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	return ids, nil
}

// decryptNamed decrypts ct, naming the file in any error: exit 3, as a
// var file that does not decrypt is for every other command.
func decryptNamed(ct []byte, name string, ids *agefile.Identities) ([]byte, error) {
	plain, err := agefile.Decrypt(ct, ids)
	if err != nil {
		return nil, usageErrorf("%s cannot be decrypted: %v", name, err)
	}
	return plain, nil
}

// readInput reads args[0], or stdin when there is none or it is "-".
func readInput(stdio IO, args []string) ([]byte, string, error) {
	if len(args) == 0 || args[0] == "-" {
		const limit = 16 << 20 // as agefile.ReadFile: a var file is kilobytes
		b, err := io.ReadAll(io.LimitReader(stdio.In, limit+1))
		if err == nil && len(b) > limit {
			clear(b)
			return nil, "stdin", usageErrorf("stdin holds more than %d MiB, too much for a var file", limit>>20)
		}
		return b, "stdin", err
	}
	b, err := agefile.ReadFile(args[0])
	if err != nil {
		return nil, args[0], usageErrorf("%s cannot be read: %v", args[0], unwrapPathErr(err))
	}
	return b, args[0], nil
}

// privateTempDir is where edit puts the plain text: a memory-backed
// directory when there is one ($XDG_RUNTIME_DIR is the user's own,
// /dev/shm is shared but the directory made in it is 0700), else $TMPDIR.
func privateTempDir(environ []string) string {
	for _, d := range []string{lookupEnv(environ, "XDG_RUNTIME_DIR"), "/dev/shm"} {
		if d == "" {
			continue
		}
		if fi, err := os.Stat(d); err == nil && fi.IsDir() && syscall.Access(d, 2 /* W_OK */) == nil {
			return d
		}
	}
	if t := lookupEnv(environ, "TMPDIR"); t != "" {
		return t
	}
	return os.TempDir()
}

// writeNew creates path, mode 0600, failing if it exists.
func writeNew(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// writeAtomic replaces path with b: written beside it, then renamed, so a
// reader (or a crash) never sees half a file. A new file is 0644 (it holds
// ciphertext or public keys); an existing one keeps its mode.
func writeAtomic(path string, b []byte) error {
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // gone after the rename; removes a failed attempt
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// outputIsTerminal says whether w is a terminal; a variable so tests can
// pretend.
var outputIsTerminal = func(w io.Writer) bool { return isTerminal(w) }

func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
