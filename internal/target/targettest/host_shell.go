package targettest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/openimsdk/openim-deploy/internal/target"
)

// Interpreter runs one exec request on a Host: args is the command line
// split into words (quotes removed), and the return value is the exit status.
// It should return promptly once ctx is cancelled (the client sent a signal
// or closed the session).
type Interpreter func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int

// SplitWords splits a command line the way /bin/sh would for the subset of
// syntax target.Quote produces: words separated by blanks, '...' literal,
// "..." with \ escapes, and \ outside quotes. Unquoted operators (; & | < >
// $ ` ( )) are rejected so a test host never silently misreads a line.
func SplitWords(line string) ([]string, error) {
	stmts, err := splitScript(line)
	if err != nil {
		return nil, err
	}
	switch len(stmts) {
	case 0:
		return nil, nil
	case 1:
		if len(stmts[0]) > 0 && isRedirect(stmts[0][len(stmts[0])-1]) {
			return nil, errors.New("redirection is only supported inside sh -c")
		}
		return stmts[0], nil
	}
	return nil, errors.New("unquoted ; or newline in command line")
}

// splitScript splits a tiny script into statements separated by ; or
// newlines. Besides words it knows only the redirection ">&2".
func splitScript(s string) ([][]string, error) {
	var (
		stmts [][]string
		words []string
		cur   strings.Builder
		inW   bool
	)
	endWord := func() {
		if inW {
			words = append(words, cur.String())
			cur.Reset()
			inW = false
		}
	}
	endStmt := func() {
		endWord()
		if len(words) > 0 {
			stmts = append(stmts, words)
			words = nil
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			endWord()
		case c == '\n' || c == ';':
			endStmt()
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inW = true
		case c == '"':
			inW = true
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("$`\"\\\n", s[i+1]) >= 0 {
					i++
				} else if s[i] == '$' || s[i] == '`' {
					return nil, errors.New("expansion inside double quotes is not supported")
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New("unterminated double quote")
			}
		case c == '\\':
			if i+1 >= len(s) {
				return nil, errors.New("trailing backslash")
			}
			i++
			if s[i] != '\n' {
				cur.WriteByte(s[i])
				inW = true
			}
		case c == '>' && !inW && strings.HasPrefix(s[i:], ">&2"):
			words = append(words, ">&2")
			i += 2
		case strings.IndexByte("&|<>$`()", c) >= 0:
			return nil, fmt.Errorf("unsupported shell syntax %q", c)
		default:
			cur.WriteByte(c)
			inW = true
		}
	}
	endStmt()
	return stmts, nil
}

func isRedirect(w string) bool { return w == ">&2" }

// exitRequest is how "exit N" leaves a mini-shell script.
type exitRequest int

// shell is the built-in interpreter: just enough of sh and coreutils for the
// transport and the conformance suite. Paths are mapped under root.
type shell struct {
	root  string
	extra map[string]Interpreter
}

func newShell(root string, extra map[string]Interpreter) *shell {
	return &shell{root: root, extra: extra}
}

func (s *shell) run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return s.exec(ctx, nil, args, stdin, stdout, stderr)
}

func (s *shell) exec(ctx context.Context, env map[string]string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return 0
	}
	if fn, ok := s.extra[args[0]]; ok {
		return fn(ctx, args, stdin, stdout, stderr)
	}
	name, rest := args[0], args[1:]
	switch name {
	case "true":
		return 0
	case "false":
		return 1
	case "echo":
		fmt.Fprintln(stdout, strings.Join(rest, " "))
		return 0
	case "printf":
		return builtinPrintf(rest, stdout, stderr)
	case "sleep":
		return builtinSleep(ctx, rest, stderr)
	case "cat":
		return s.cat(ctx, rest, stdin, stdout, stderr)
	case "sha256sum":
		return s.sha256sum(rest, stdout, stderr)
	case "sudo":
		for len(rest) > 0 && strings.HasPrefix(rest[0], "-") {
			done := rest[0] == "--"
			rest = rest[1:]
			if done {
				break
			}
		}
		return s.exec(ctx, env, rest, stdin, stdout, stderr)
	case "env":
		env = copyEnv(env)
		for len(rest) > 0 && strings.Contains(rest[0], "=") {
			k, v, _ := strings.Cut(rest[0], "=")
			env[k] = v
			rest = rest[1:]
		}
		return s.exec(ctx, env, rest, stdin, stdout, stderr)
	case "printenv":
		if len(rest) != 1 {
			return 2
		}
		v, ok := env[rest[0]]
		if !ok {
			return 1
		}
		fmt.Fprintln(stdout, v)
		return 0
	case "id":
		fmt.Fprintln(stdout, "0")
		return 0
	case "set": // positional arguments: the fake's scripts do not use them
		return 0
	case "sh":
		if len(rest) >= 2 && rest[0] == "-c" && rest[1] == target.ScriptWrapper {
			src, err := target.ReadScriptFrame(stdin)
			if err != nil {
				fmt.Fprintf(stderr, "sh: %v\n", err)
				return 125
			}
			// A streamed command arrives framed too: "set -- ARGS" then
			// the stream wrapper, which this fake emulates rather than parses.
			if set, body, ok := strings.Cut(src, "\n"); ok && (body == target.StreamScript || body == target.StripComments(target.StreamScript)) && strings.HasPrefix(set, "set --") {
				args, err := SplitWords(strings.TrimPrefix(set, "set --"))
				if err != nil {
					fmt.Fprintf(stderr, "sh: %v\n", err)
					return 2
				}
				return s.streamed(ctx, env, args, stdin, stdout, stderr)
			}
			return s.script(ctx, env, src, stdin, stdout, stderr)
		}
		if len(rest) >= 3 && rest[0] == "-c" && rest[1] == target.StreamScript {
			return s.streamed(ctx, env, rest[3:], stdin, stdout, stderr)
		}
		if len(rest) < 2 || rest[0] != "-c" {
			fmt.Fprintln(stderr, "sh: only sh -c SCRIPT is supported")
			return 2
		}
		return s.script(ctx, env, rest[1], stdin, stdout, stderr)
	}
	fmt.Fprintf(stderr, "sh: 1: %s: not found\n", name)
	return 127
}

// script runs statements in order; "exit N" stops; the status of the last
// statement is the result.
func (s *shell) script(ctx context.Context, env map[string]string, src string, stdin io.Reader, stdout, stderr io.Writer) int {
	stmts, err := splitScript(src)
	if err != nil {
		fmt.Fprintf(stderr, "sh: %v\n", err)
		return 2
	}
	code := 0
	for _, st := range stmts {
		if ctx.Err() != nil {
			return 137
		}
		out := stdout
		if isRedirect(st[len(st)-1]) {
			st, out = st[:len(st)-1], stderr
		}
		if st[0] == "exit" {
			if len(st) > 1 {
				code, _ = strconv.Atoi(st[1])
			}
			return code
		}
		code = s.exec(ctx, env, st, stdin, out, stderr)
	}
	return code
}

func copyEnv(env map[string]string) map[string]string {
	out := make(map[string]string, len(env)+1)
	for k, v := range env {
		out[k] = v
	}
	return out
}

func fileArgs(args []string) []string {
	if len(args) > 0 && args[0] == "--" {
		return args[1:]
	}
	return args
}

func (s *shell) cat(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	files := fileArgs(args)
	if len(files) == 0 {
		if _, err := io.Copy(stdout, ctxReader{ctx, stdin}); err != nil {
			return 1
		}
		return 0
	}
	code := 0
	for _, f := range files {
		b, err := os.ReadFile(rooted(s.root, f))
		if err != nil {
			fmt.Fprintf(stderr, "cat: %s: No such file or directory\n", f)
			code = 1
			continue
		}
		_, _ = stdout.Write(b)
	}
	return code
}

func (s *shell) sha256sum(args []string, stdout, stderr io.Writer) int {
	code := 0
	for _, f := range fileArgs(args) {
		fh, err := os.Open(rooted(s.root, f))
		if err != nil {
			fmt.Fprintf(stderr, "sha256sum: %s: No such file or directory\n", f)
			code = 1
			continue
		}
		h := sha256.New()
		_, err = io.Copy(h, fh)
		fh.Close()
		if err != nil {
			fmt.Fprintf(stderr, "sha256sum: %s: %v\n", f, err)
			code = 1
			continue
		}
		fmt.Fprintf(stdout, "%s  %s\n", hex.EncodeToString(h.Sum(nil)), f)
	}
	return code
}

func builtinSleep(ctx context.Context, args []string, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "sleep: missing operand")
		return 1
	}
	secs, err := strconv.ParseFloat(args[0], 64)
	if err != nil {
		fmt.Fprintf(stderr, "sleep: invalid time interval %q\n", args[0])
		return 1
	}
	t := time.NewTimer(time.Duration(secs * float64(time.Second)))
	defer t.Stop()
	select {
	case <-t.C:
		return 0
	case <-ctx.Done():
		return 137
	}
}

// builtinPrintf supports %s, %d, %%, \n, \t, \\ and \0, reusing the format
// for extra arguments like printf(1).
func builtinPrintf(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "printf: usage: printf format [arguments]")
		return 2
	}
	format, vals := args[0], args[1:]
	var b strings.Builder
	for first := true; first || len(vals) > 0; first = false {
		used := 0
		for i := 0; i < len(format); i++ {
			c := format[i]
			if c == '\\' && i+1 < len(format) {
				i++
				b.WriteString(map[byte]string{'n': "\n", 't': "\t", '\\': "\\", '0': "\x00"}[format[i]])
				continue
			}
			if c != '%' || i+1 >= len(format) {
				b.WriteByte(c)
				continue
			}
			i++
			if format[i] == '%' {
				b.WriteByte('%')
				continue
			}
			v := ""
			if used < len(vals) {
				v = vals[used]
			}
			used++
			b.WriteString(v) // %s and %d alike: the value as given
		}
		if used == 0 || used >= len(vals) {
			break
		}
		vals = vals[used:]
	}
	_, _ = io.WriteString(stdout, b.String())
	return 0
}

// ctxReader stops reading once ctx is done (checked between reads).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// streamed is the in-process host's version of target.StreamScript: it runs
// args and cancels them when stdin reaches end of file, as the real script
// does on a real host.
func (s *shell) streamed(ctx context.Context, env map[string]string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		cancel()
	}()
	code := s.exec(ctx, env, args, strings.NewReader(""), stdout, stderr)
	if ctx.Err() != nil {
		return 143 // killed by SIGTERM, as "wait" reports it
	}
	return code
}
