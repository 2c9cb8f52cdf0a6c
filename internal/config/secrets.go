package config

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Secret is a secret "name" { command = [...] } block of the playbook: a
// value a command prints on the controller (vault kv get, pass, op read),
// read as secret.<name>. The command runs at most once per Load, and only
// when the playbook refers to the secret.
type Secret struct {
	Name string
	// Command is the argv, run without a shell; a relative program path
	// is relative to the playbook's directory, a bare name is looked up in
	// PATH.
	Command []string
	Timeout time.Duration
	// Ran is set when the command ran during Load and printed the value.
	Ran bool
	// Value is what it printed on stdout, less one trailing newline. It
	// is sensitive: Config.Secrets holds it for redaction.
	Value     string
	DeclRange hcl.Range
}

// SecretRunner runs a secret's argv on the controller, in dir, and returns
// what it printed on stdout. It must stop the command when ctx ends.
type SecretRunner func(ctx context.Context, dir string, argv []string) ([]byte, error)

// Secret command defaults and limits.
const (
	defaultSecretTimeout = 30 * time.Second
	// maxSecretOutput bounds what is kept of a command's stdout: a secret
	// is a password or a key, and a command that prints a megabyte has
	// printed something else.
	maxSecretOutput = 1 << 20
)

// errSecretTooLarge is returned by ExecSecret for output over the limit.
var errSecretTooLarge = fmt.Errorf("printed more than %d KiB", maxSecretOutput>>10)

// ExecSecret is the SecretRunner of the command line: argv runs with the
// controller's environment, stdin from /dev/null, and stdout captured;
// stderr is discarded, never shown or logged, because a command that
// fails may print the secret there ("invalid token s3cret"). A child it
// leaves behind holding stdout delays the run by at most a second.
func ExecSecret(ctx context.Context, dir string, argv []string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	var out cappedBuffer
	cmd.Stdout = &out
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		return nil, ctx.Err() // killed for it: the exit status says nothing
	}
	if err == nil && out.over {
		err = errSecretTooLarge
	}
	if err != nil {
		clear(out.b)
		return nil, err
	}
	return out.b, nil
}

// cappedBuffer keeps the first maxSecretOutput bytes written to it and
// notes more; it never fails a write, so the command is not killed by
// SIGPIPE halfway.
type cappedBuffer struct {
	b    []byte
	over bool
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	room := maxSecretOutput - len(c.b)
	if len(p) > room {
		c.over = true
		c.b = append(c.b, p[:max(room, 0)]...)
		return len(p), nil
	}
	c.b = append(c.b, p...)
	return len(p), nil
}

// secretBlock is a secret "name" { } block, decoded in the first pass with
// the variables; its body is decoded once var.* is known.
type secretBlock struct {
	Name      string    `hcl:"name,label"`
	NameRange hcl.Range `hcl:"name,label_range"`
	Body      hcl.Body  `hcl:",remain"`
	DefRange  hcl.Range `hcl:",def_range"`
}

type secretBody struct {
	Command      []string  `hcl:"command"`
	CommandRange hcl.Range `hcl:"command,attr_range"`
	Timeout      string    `hcl:"timeout,optional"`
	TimeoutRange hcl.Range `hcl:"timeout,attr_range"`
}

// secretState is one declared secret during Load.
type secretState struct {
	s       *Secret
	command hcl.Range // the command attribute, where a failure is reported
	def     hcl.Range
	ok      bool      // decoded without error: the command may run
	done    bool      // run (or found unrunnable): val is final
	val     cty.Value // what secret.<name> evaluates to
}

// secretsState is the loader's view of the playbook's secrets.
type secretsState struct {
	byName map[string]*secretState
	order  []string // declaration order
	dir    string   // the playbook's directory: the commands' working directory
	// ctx is the playbook's root EvalContext; secret.* is set in it, and
	// every per-host context is its child, so a secret run late (for a
	// template) is seen by the blocks evaluated after.
	ctx *hcl.EvalContext
	// unknown are names referred to but not declared, reported once each.
	unknown map[string]bool
}

// decodeSecrets decodes the secret blocks (l.secretBlocks, from the first
// pass), then runs the commands of the secrets the playbook's blocks refer
// to, and sets secret.* in ctx. Templates, whose text is read later, ask
// for theirs with needSecrets.
func (l *loader) decodeSecrets(file string, pb *hcl.File, ctx *hcl.EvalContext) []*Secret {
	st := &secretsState{byName: map[string]*secretState{}, dir: filepath.Dir(file), ctx: ctx, unknown: map[string]bool{}}
	l.secrets = st
	var out []*Secret
	for _, b := range l.secretBlocks {
		if !hclsyntax.ValidIdentifier(b.Name) {
			l.errorf(b.NameRange, b.DefRange, "Invalid secret name",
				"Secret name %q must be a valid identifier: letters, digits, \"_\" and \"-\", starting with a letter.", b.Name)
			continue
		}
		if prev, dup := st.byName[b.Name]; dup {
			l.errorf(b.NameRange, b.DefRange, "Duplicate secret", "Secret %q is already declared at %s.", b.Name, prev.def)
			continue
		}
		s := &Secret{Name: b.Name, Timeout: defaultSecretTimeout, DeclRange: b.DefRange}
		state := &secretState{s: s, def: b.DefRange}
		st.byName[b.Name] = state
		st.order = append(st.order, b.Name)
		out = append(out, s)
		state.ok = l.decodeSecret(b, state, ctx)
	}
	var refs []hcl.Traversal
	if body, ok := pb.Body.(*hclsyntax.Body); ok {
		for _, blk := range body.Blocks {
			if blk.Type != "variable" && blk.Type != "secret" {
				refs = append(refs, secretRefs(blk.Body)...)
			}
		}
	}
	l.needSecrets(refs)
	return out
}

// decodeSecret decodes one secret block's body under var.*; false when
// its command cannot run.
func (l *loader) decodeSecret(b *secretBlock, state *secretState, ctx *hcl.EvalContext) bool {
	start := len(l.diags)
	// A secret's command runs before any secret is known: it may use var,
	// not another secret. secret is unknown here, so a reference to it
	// is this one error and no more.
	if body, ok := b.Body.(*hclsyntax.Body); ok {
		if a, ok := body.Attributes["command"]; ok {
			for _, tr := range a.Expr.Variables() {
				if tr.RootName() == "secret" {
					l.errorf(tr.SourceRange(), b.DefRange, "Secret in a secret command",
						"The command of secret %q runs before any secret is known, so it may use var.* but not another secret.", b.Name)
				}
			}
		}
	}
	cmdCtx := ctx.NewChild()
	cmdCtx.Variables = map[string]cty.Value{"secret": cty.DynamicVal}
	var sb secretBody
	// The guard refuses a sensitive value in command: an argv is seen by
	// every user of the machine (ps) while it runs.
	l.diags = append(l.diags, gohcl.DecodeBody(l.guard(b.Body, nil), cmdCtx, &sb)...)
	state.command = sb.CommandRange
	if !set(state.command) {
		state.command = b.DefRange
	}
	if l.has(sb.TimeoutRange) {
		if d, ok := l.duration(sb.TimeoutRange, b.DefRange, "timeout", sb.Timeout); ok {
			state.s.Timeout = d
		}
	}
	if l.has(sb.CommandRange) {
		switch {
		case len(sb.Command) == 0 || sb.Command[0] == "":
			l.errorf(sb.CommandRange, b.DefRange, "Invalid secret command",
				"command must name a program and its arguments, such as [\"vault\", \"kv\", \"get\", \"-field=password\", \"secret/app\"]; it runs without a shell.")
		case strings.ContainsRune(strings.Join(sb.Command, ""), 0):
			l.errorf(sb.CommandRange, b.DefRange, "Invalid secret command", "An argument of command contains a NUL byte, which no command line can hold.")
		default:
			state.s.Command = sb.Command
		}
	}
	for _, d := range l.diags[start:] {
		if d.Severity == hcl.DiagError {
			return false
		}
	}
	return state.s.Command != nil
}

// secretRefs lists the references to secret in every attribute of body
// and of the blocks nested in it.
func secretRefs(body *hclsyntax.Body) []hcl.Traversal {
	var out []hcl.Traversal
	for _, a := range body.Attributes {
		for _, tr := range a.Expr.Variables() {
			if tr.RootName() == "secret" {
				out = append(out, tr)
			}
		}
	}
	for _, b := range body.Blocks {
		out = append(out, secretRefs(b.Body)...)
	}
	return out
}

// needSecrets runs, once each, the commands of the secrets refs name (all
// of them for a reference that does not name one: secret[local.k]), and
// reports the names no secret block declares.
func (l *loader) needSecrets(refs []hcl.Traversal) {
	st := l.secrets
	if st == nil {
		return
	}
	need := map[string]bool{}
	for _, tr := range refs {
		if tr.RootName() != "secret" {
			continue
		}
		name, ok := secretName(tr)
		if !ok {
			for _, n := range st.order {
				need[n] = true
			}
			continue
		}
		if _, declared := st.byName[name]; declared {
			need[name] = true
			continue
		}
		if !st.unknown[name] {
			st.unknown[name] = true
			l.errorf(tr.SourceRange(), hcl.Range{}, "Unknown secret",
				"secret.%s is not declared. Declare it in the playbook with secret %q { command = [...] }.%s", name, name, suggest(name, st.order))
		}
		// Unknown, so the expressions that use it add no further errors.
		st.byName[name] = &secretState{done: true, val: cty.DynamicVal}
	}
	for _, name := range st.order {
		if s := st.byName[name]; need[name] && !s.done {
			l.runSecret(s)
		}
	}
	obj := map[string]cty.Value{}
	for name, s := range st.byName {
		if s.done {
			obj[name] = s.val
		}
	}
	st.ctx.Variables["secret"] = cty.ObjectVal(obj)
}

// secretName is the name a traversal of secret picks: secret.x or
// secret["x"].
func secretName(tr hcl.Traversal) (string, bool) {
	if len(tr) < 2 {
		return "", false
	}
	switch step := tr[1].(type) {
	case hcl.TraverseAttr:
		return step.Name, true
	case hcl.TraverseIndex:
		if step.Key.Type() == cty.String && step.Key.IsKnown() && !step.Key.IsNull() {
			return step.Key.AsString(), true
		}
	}
	return "", false
}

// runSecret runs one secret's command, bounded by its timeout, and keeps
// its value marked sensitive. Without a runner (commands that only read
// hosts, shell completion) the value is unknown: whatever uses it is left
// out, and nothing is run. A failure names the secret and how the command
// ended, never what it printed.
func (l *loader) runSecret(s *secretState) {
	s.done = true
	// Unknown, so what uses it adds no errors, but still sensitive, so a
	// secret in args is reported even while its command fails.
	s.val = cty.DynamicVal.Mark(sensitiveMark)
	if !s.ok {
		return // its block was reported
	}
	if l.opts.SecretRunner == nil {
		s.val = cty.UnknownVal(cty.String).Mark(sensitiveMark)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.s.Timeout)
	defer cancel()
	out, err := l.opts.SecretRunner(ctx, l.secrets.dir, s.s.Command)
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	if err != nil {
		detail := fmt.Sprintf("The command of secret %q (%s) %s.", s.s.Name, s.s.Command[0], describeRunError(err, s.s.Timeout))
		if hint := secretHint(err); hint != "" {
			detail += " " + hint
		}
		l.errorf(s.command, s.def, "Secret command failed", "%s", detail)
		return
	}
	v := string(out)
	clear(out)
	if strings.HasSuffix(v, "\r\n") {
		v = v[:len(v)-2]
	} else {
		v = strings.TrimSuffix(v, "\n")
	}
	if v == "" {
		l.errorf(s.command, s.def, "Secret command failed",
			"The command of secret %q (%s) exited 0 but printed nothing: an empty secret is a mistake, not a password.", s.s.Name, s.s.Command[0])
		return
	}
	s.s.Ran, s.s.Value = true, v
	s.val = cty.StringVal(v).Mark(sensitiveMark)
}

// describeRunError says how a secret command ended, from what the runner
// returned; it holds nothing the command printed.
func describeRunError(err error, timeout time.Duration) string {
	var exitErr *exec.ExitError
	var execErr *exec.Error
	var pathErr *fs.PathError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("did not finish within %s and was stopped", timeout)
	case errors.Is(err, errSecretTooLarge):
		return err.Error()
	case errors.As(err, &exitErr):
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return fmt.Sprintf("was killed by signal %s", ws.Signal())
		}
		return fmt.Sprintf("exited with status %d", exitErr.ExitCode())
	case errors.As(err, &execErr) && errors.Is(err, exec.ErrNotFound):
		return "cannot be run: it is not found in PATH"
	case errors.As(err, &execErr):
		return fmt.Sprintf("cannot be run: %v", execErr.Err)
	case errors.As(err, &pathErr):
		return fmt.Sprintf("cannot be run: %v", pathErr.Err)
	default:
		return fmt.Sprintf("failed: %v", err)
	}
}

// secretHint says what to do next.
func secretHint(err error) string {
	var exitErr *exec.ExitError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "Raise the block's timeout (timeout = \"2m\") if it is slow, or check that it does not wait for input: it runs with no stdin."
	case errors.As(err, &exitErr):
		return "Its output is not shown, as it may hold the secret; run the command yourself to see why."
	}
	return ""
}
