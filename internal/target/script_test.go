package target

import (
	"bytes"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// runSh runs argv with stdin through the real /bin/sh and returns stdout
// and the exit status.
func runSh(t testing.TB, argv []string, stdin io.Reader) (string, int) {
	t.Helper()
	c := exec.Command(argv[0], argv[1:]...)
	c.Stdin = stdin
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%v: %v", argv, err)
	}
	return out.String(), code
}

// echoScript prints $0, every argument NUL-terminated, then stdin, and
// exits with the status in its first argument's length.
const echoScript = `printf '%s\0' "$0" "$@"; cat; exit $(( ${#1} % 7 ))`

// checkWrapped runs a script directly (sh -c SCRIPT NAME ARGS) and through
// WrapScript, and fails unless both print and exit the same.
func checkWrapped(t testing.TB, script string, args []string, stdin string) {
	t.Helper()
	direct := append([]string{"sh", "-c", script, "probe"}, args...)
	want, wantCode := runSh(t, direct, strings.NewReader(stdin))
	argv, in, ok := WrapScript(Cmd{Args: direct, Stdin: strings.NewReader(stdin)})
	if !ok {
		t.Fatal("WrapScript did not wrap a sh -c command")
	}
	if len(argv) != 4 || argv[2] != ScriptWrapper || argv[3] != "probe" {
		t.Fatalf("wrapped argv = %q", argv)
	}
	got, code := runSh(t, argv, in)
	if got != want || code != wantCode {
		t.Fatalf("wrapped: %q exit %d; direct: %q exit %d", got, code, want, wantCode)
	}
}

func TestWrapScriptMatchesShC(t *testing.T) {
	checkWrapped(t, echoScript, []string{"a b", "it's", "$(id)", "`id`", "\n", "", "-e"}, "payload\nline 2")
	checkWrapped(t, echoScript, nil, "")
	checkWrapped(t, "set -e\nfalse\necho unreachable", nil, "")
	checkWrapped(t, "exit 3", []string{"x"}, "")
}

// TestWrapScriptLargeScript pins that a script past Linux's 128 KiB limit
// on one argument runs: sh -c would fail to exec ("Argument list too
// long"), the wrapper reads it from stdin.
func TestWrapScriptLargeScript(t *testing.T) {
	var b strings.Builder
	for b.Len() < 300<<10 {
		b.WriteString(": padding line that does nothing at all\n")
	}
	b.WriteString(`printf '%s' "$1"; cat`)
	argv, in, _ := WrapScript(Cmd{Args: []string{"sh", "-c", b.String(), "big", "arg"}, Stdin: strings.NewReader("+stdin")})
	if got, code := runSh(t, argv, in); got != "arg+stdin" || code != 0 {
		t.Fatalf("large script printed %q, exit %d", got, code)
	}
}

func TestWrapScriptLeavesOtherCommands(t *testing.T) {
	for _, args := range [][]string{{"systemctl", "show"}, {"sh", "-e", "x"}, {"sh", "-c"}, {"bash", "-c", "x"}} {
		if argv, _, ok := WrapScript(Cmd{Args: args}); ok || !slices.Equal(argv, args) {
			t.Errorf("WrapScript(%q) = %q, %v; want unchanged", args, argv, ok)
		}
	}
}

// TestScriptWrapperIsOneSafeLine pins what makes the wrapper survive any
// login shell: one line, no history character for csh, no NUL.
func TestScriptWrapperIsOneSafeLine(t *testing.T) {
	if strings.ContainsAny(ScriptWrapper, "\n!'\x00") {
		t.Fatalf("ScriptWrapper holds a newline, '!' or a quote: %q", ScriptWrapper)
	}
}

// FuzzShellScript holds the wrapped form to sh -c for arbitrary arguments
// and stdin: the same $0, arguments, stdin and exit status.
func FuzzShellScript(f *testing.F) {
	f.Add("a b", "it's", "payload")
	f.Add("$(id)", "`touch /tmp/pwned`", "")
	f.Add("\n", "'\\'", "\x01\xff")
	f.Add("", "--", "12\nset -- x\n")
	f.Fuzz(func(t *testing.T, a1, a2, stdin string) {
		if strings.ContainsRune(a1+a2, 0) {
			t.Skip("argv cannot hold NUL")
		}
		checkWrapped(t, echoScript, []string{a1, a2}, stdin)
	})
}
