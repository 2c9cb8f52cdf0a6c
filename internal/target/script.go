package target

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ScriptWrapper is the whole script a transport puts on the command line
// in place of a caller's "sh -c SCRIPT": it reads the real script, framed
// by EncodeScript, from the start of stdin and evaluates it, leaving the
// rest of stdin to the script.
//
// Why: sshd runs an exec request as "$SHELL -c <one string>" in the login
// shell of the user. A csh/tcsh login shell mangles multi-line scripts and
// "!" inside them, and Linux caps one argument at 128 KiB (MAX_ARG_STRLEN),
// which large file sets exceed. This wrapper is one line with no "!", no
// newline and no double quote outside single quotes once quoted, so every
// login shell passes it to sh unchanged; the script travels on stdin, and
// its positional arguments with it (so they are not in /proc/*/cmdline
// either). The read is byte-exact: the read builtin reads the length line
// a byte at a time, and head -c reads no more than it is asked for, so a
// caller's own stdin (a file to install) follows intact.
//
// Exit status 125 means the frame could not be read.
const ScriptWrapper = `IFS= read -r __openim_n || exit 125; __openim_s=$(head -c "$__openim_n") || exit 125; eval "$__openim_s"`

// ShellScript reports whether cmd has the shape ["sh", "-c", SCRIPT,
// NAME?, ARGS...] that transports send through ScriptWrapper.
func ShellScript(cmd Cmd) (script, name string, args []string, ok bool) {
	if len(cmd.Args) < 3 || cmd.Args[0] != "sh" || cmd.Args[1] != "-c" {
		return "", "", nil, false
	}
	name = "sh"
	if len(cmd.Args) > 3 {
		name, args = cmd.Args[3], cmd.Args[4:]
	}
	return cmd.Args[2], name, args, true
}

// EncodeScript frames script and its positional arguments for
// ScriptWrapper: the byte length of the body on one line, then the body,
// which is "set -- ARGS" (each quoted by Quote) and the script.
func EncodeScript(script string, args []string) []byte {
	var set strings.Builder
	set.WriteString("set --")
	for _, a := range args {
		set.WriteByte(' ')
		set.WriteString(Quote(a))
	}
	set.WriteByte('\n')
	n := strconv.Itoa(set.Len() + len(script))
	// One buffer of the frame's size: the read script is tens of KB, sent
	// to every host.
	b := make([]byte, 0, len(n)+1+set.Len()+len(script))
	b = append(b, n...)
	b = append(b, '\n')
	b = append(b, set.String()...)
	return append(b, script...)
}

// WrapScript rewrites a "sh -c" command (see ShellScript) into argv and
// stdin that run the same script, its comments blanked (StripComments),
// with the same $0, arguments and stdin through ScriptWrapper. Other commands come back unchanged with ok false.
func WrapScript(cmd Cmd) (argv []string, stdin io.Reader, ok bool) {
	script, name, args, ok := ShellScript(cmd)
	if !ok {
		return cmd.Args, cmd.Stdin, false
	}
	var frame io.Reader = bytes.NewReader(EncodeScript(StripComments(script), args))
	if cmd.Stdin != nil {
		frame = io.MultiReader(frame, cmd.Stdin)
	}
	return []string{"sh", "-c", ScriptWrapper, name}, frame, true
}

// ReadScriptFrame reads one EncodeScript frame from r, byte-exact like
// ScriptWrapper, so whatever follows stays in r for the script: for
// in-process hosts that play the host's side.
func ReadScriptFrame(r io.Reader) (string, error) {
	var line []byte
	b := make([]byte, 1)
	for {
		if _, err := io.ReadFull(r, b); err != nil {
			return "", fmt.Errorf("script frame: %w", err)
		}
		if b[0] == '\n' {
			break
		}
		line = append(line, b[0])
	}
	n, err := strconv.Atoi(string(line))
	if err != nil || n < 0 {
		return "", fmt.Errorf("script frame: bad length %q", line)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return "", fmt.Errorf("script frame: %w", err)
	}
	return string(body), nil
}
