package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"
)

// TestDocsNameRealCommandsAndFlags reads README.md and docs/*.md and checks
// every `openim-deploy <subcommand> ...` they show, in fenced code blocks
// and in inline code spans: the subcommand exists in the command tree and
// every flag after it exists on that command, inherited flags included. A
// renamed or removed flag then fails here, naming the file and line that
// still shows it, instead of failing a reader who copies it.
func TestDocsNameRealCommandsAndFlags(t *testing.T) {
	files, err := filepath.Glob("../../docs/*.md")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	files = append([]string{"../../README.md"}, files...)

	root := docsRootCommand()
	checked := 0
	for _, path := range files {
		src, err := os.ReadFile(path)
		require.NoError(t, err)
		name := strings.TrimPrefix(path, "../../")
		for _, m := range invocationsIn(string(src)) {
			checked++
			if problem := checkInvocation(root, m.args); problem != "" {
				t.Errorf("%s:%d: %s\n\tin: openim-deploy %s", name, m.line, problem, strings.Join(m.args, " "))
			}
		}
	}
	// The README alone shows more than this; far fewer means the parser
	// stopped finding them, and the test would pass checking nothing.
	require.Greater(t, checked, 40, "invocations found in README.md and docs/*.md")
}

// TestCheckInvocationFindsDrift keeps the checker honest: each of these
// must be refused.
func TestCheckInvocationFindsDrift(t *testing.T) {
	root := docsRootCommand()
	for _, line := range []string{
		"openim-deploy aply -i inv.hcl",
		"openim-deploy apply --no-such-flag",
		"openim-deploy plan -Z",
		"openim-deploy restart openim-push --batchsize 2",
		"openim-deploy -i inv.hcl status --follow",    // --follow is a logs flag
		"openim-deploy logs -i inv.hcl -f --canary 1", // a restart flag on logs
	} {
		ms := invocationsIn("```sh\n" + line + "\n```\n")
		require.Len(t, ms, 1, line)
		require.NotEmpty(t, checkInvocation(root, ms[0].args), line)
	}
	for _, line := range []string{
		"openim-deploy apply -i inv.hcl -var bin_dir=/x -var-file=secrets.hcl -vv",
		"openim-deploy -v --output json plan --detailed-exitcode",
		"openim-deploy exec -l 'app,!im-3' -- uname -r --not-ours",
		"openim-deploy completion bash",
		"openim-deploy restart --help",
	} {
		ms := invocationsIn("```sh\n" + line + "\n```\n")
		require.Len(t, ms, 1, line)
		require.Empty(t, checkInvocation(root, ms[0].args), line)
	}
}

// docsRootCommand is the command tree as a user's shell meets it: with the
// help and completion commands and the --help and --version flags that
// cobra adds only when it runs.
func docsRootCommand() *cobra.Command {
	root := newRootCommand(&GlobalOptions{}, IO{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard})
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	root.InitDefaultVersionFlag()
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		c.InitDefaultHelpFlag()
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return root
}

type invocation struct {
	line int
	args []string // the words after "openim-deploy"
}

var (
	// An invocation: the program's name where a command starts (the
	// start of the line or code span, after a prompt, sudo, env, a pipe or
	// $( ), possibly as a path (./_output/bin/openim-deploy), then at least
	// one word. Prose that names the tool ("not written by openim-deploy
	// for app im", "# Managed by openim-deploy") is not a command.
	invocationRE = regexp.MustCompile(`(?:^\s*(?:\$\s+)?|[|;&(]\s*|\bsudo\s+|\benv\s+(?:\S+=\S*\s+)*)(?:[./_~]\S*/)?openim-deploy[ \t]+(\S.*)$`)
	codeSpanRE   = regexp.MustCompile("`([^`]+)`")
	// An indented line of a synopsis's options, going on from the line above.
	synopsisContinuedRE = regexp.MustCompile(`^\s+[\[-]`)
)

// invocationsIn finds the command lines in a markdown text: every line of
// a fenced code block (continued lines joined) and every inline code span
// outside them.
func invocationsIn(text string) []invocation {
	var out []invocation
	inFence := false
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		line, lineNo := lines[i], i+1
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inFence = !inFence
			continue
		}
		if inFence {
			for strings.HasSuffix(line, `\`) && i+1 < len(lines) {
				i++
				line = strings.TrimSuffix(line, `\`) + " " + lines[i]
			}
			m := invocationRE.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			// A synopsis goes on over indented lines of options:
			//   openim-deploy apply -i INVENTORY [--limit ...]
			//                       [--lock-wait DURATION] ...
			for i+1 < len(lines) && synopsisContinuedRE.MatchString(lines[i+1]) {
				i++
				m[1] += " " + lines[i]
			}
			out = append(out, invocation{line: lineNo, args: shellWords(m[1])})
			continue
		}
		for _, span := range codeSpanRE.FindAllStringSubmatch(line, -1) {
			if m := invocationRE.FindStringSubmatch(span[1]); m != nil {
				out = append(out, invocation{line: lineNo, args: shellWords(m[1])})
			}
		}
	}
	return out
}

// shellWords splits a command line as a shell would, roughly: quotes group
// and are dropped; it stops at a comment or at what ends the command (a
// pipe, a redirection, ;, &&, ||).
func shellWords(s string) []string {
	var words []string
	var word strings.Builder
	inWord := false
	var quote rune
	optional := 0 // depth of [ ]: a | inside is an alternative, not a pipe
	flush := func() {
		if inWord {
			words = append(words, word.String())
		}
		word.Reset()
		inWord = false
	}
	for _, r := range s {
		switch {
		case quote == 0 && r == '[':
			// A synopsis's optional part: [-p PLAYBOOK] checks as -p PLAYBOOK.
			optional++
		case quote == 0 && r == ']':
			optional--
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				word.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			flush()
		case r == '#' && !inWord, r == ';', r == '>':
			flush()
			return words
		case r == '|' || r == '&':
			// "bash|zsh|fish" is one argument; a lone | or && ends the command.
			if !inWord && optional > 0 {
				continue // [SERVICE | SERVICE@INSTANCE]
			}
			if !inWord {
				flush()
				return words
			}
			word.WriteRune(r)
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	flush()
	return words
}

// checkInvocation walks args down the command tree and checks each flag on
// the command it reaches. It returns what is wrong, or "".
func checkInvocation(root *cobra.Command, args []string) string {
	args = terraformStyleFlags(args)
	cmd := root
	positional := false // a positional argument ends the walk down the tree
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return "" // what follows is the remote command's (exec)
		case strings.HasPrefix(a, "--"):
			name, _, hasValue := strings.Cut(a[2:], "=")
			f := lookupFlag(cmd, name)
			if f == nil {
				return fmt.Sprintf("%q has no flag --%s", cmd.CommandPath(), name)
			}
			if !hasValue && takesValue(f) {
				i++
			}
		case strings.HasPrefix(a, "-") && len(a) > 1:
			// Shorthands, possibly combined (-vv); a value may follow in
			// the same word (-ofile) or the next.
			for j, r := range a[1:] {
				f := lookupShorthand(cmd, string(r))
				if f == nil {
					return fmt.Sprintf("%q has no flag -%c", cmd.CommandPath(), r)
				}
				if takesValue(f) {
					if j == len(a)-2 {
						i++
					}
					break
				}
			}
		case !positional && strings.HasPrefix(a, "<"):
			return "" // a placeholder (openim-deploy <command> --help): nothing to check
		case !positional:
			sub := findSubcommand(cmd, a)
			if sub == nil {
				if cmd == root {
					return fmt.Sprintf("no command %q", a)
				}
				positional = true
				continue
			}
			cmd = sub
		}
	}
	return ""
}

func findSubcommand(cmd *cobra.Command, name string) *cobra.Command {
	for _, sub := range cmd.Commands() {
		if sub.Name() == name || sub.HasAlias(name) {
			return sub
		}
	}
	return nil
}

func lookupFlag(cmd *cobra.Command, name string) *pflag.Flag {
	if f := cmd.Flags().Lookup(name); f != nil {
		return f
	}
	return cmd.InheritedFlags().Lookup(name)
}

func lookupShorthand(cmd *cobra.Command, short string) *pflag.Flag {
	if f := cmd.Flags().ShorthandLookup(short); f != nil {
		return f
	}
	return cmd.InheritedFlags().ShorthandLookup(short)
}

// takesValue says whether the flag consumes the next word: not booleans
// and counts, nor flags with a value implied when none is given.
func takesValue(f *pflag.Flag) bool {
	return f.NoOptDefVal == "" && f.Value.Type() != "bool" && f.Value.Type() != "count"
}
