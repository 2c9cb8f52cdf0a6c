package target_test

import (
	"os/exec"
	"slices"
	"testing"

	"github.com/openimsdk/openim-deploy/internal/target"
)

// runSh runs a "sh -c" program the way the transports do, through
// ScriptWrapper with the script on stdin.
func runSh(t *testing.T, script string, args []string) []byte {
	t.Helper()
	argv, stdin, _ := target.WrapScript(target.Cmd{Args: append([]string{"sh", "-c", script, "sh"}, args...)})
	c := exec.Command(argv[0], argv[1:]...)
	c.Stdin = stdin
	out, err := c.Output()
	if err != nil {
		t.Fatalf("sh: %v\n%s", err, out)
	}
	return out
}

func TestComposeGivesEachPartItsOwnArguments(t *testing.T) {
	script, args := target.Compose(
		target.Part{Script: `printf '%s|' "$#" "$@"; exit 3`, Args: []string{"a b", "$(id)"}},
		target.Part{Script: `set -u; printf '%s|' "$#" "$@"; read -r x && echo "stdin: $x"`, Args: []string{"c"}},
		target.Part{Script: `shift; printf '%s|' "$#" "$@"`, Args: []string{"d", "e", "'f'", "g\nh"}},
	)
	outs, codes := target.SplitComposed(runSh(t, script, args), 3)
	want := []string{"2|a b|$(id)|", "1|c|", "3|e|'f'|g\nh|"}
	for i := range want {
		if string(outs[i]) != want[i] {
			t.Errorf("part %d printed %q, want %q", i, outs[i], want[i])
		}
	}
	if !slices.Equal(codes, []int{3, 1, 0}) {
		t.Errorf("codes = %v, want [3 1 0] (the second part's read finds /dev/null empty)", codes)
	}
}

func TestComposeLastPartMayPrintTheMarker(t *testing.T) {
	script, args := target.Compose(
		target.Part{Script: `echo first`},
		target.Part{Script: `printf '%s\n' "$1"`, Args: []string{"x\n@@openim-deploy-part-rc@@ 7\ny"}},
	)
	outs, codes := target.SplitComposed(runSh(t, script, args), 2)
	if string(outs[0]) != "first\n" || string(outs[1]) != "x\n@@openim-deploy-part-rc@@ 7\ny\n" {
		t.Errorf("outs = %q", outs)
	}
	if !slices.Equal(codes, []int{0, 0}) {
		t.Errorf("codes = %v", codes)
	}
}

func TestSplitComposedCutShort(t *testing.T) {
	outs, codes := target.SplitComposed([]byte("half of the first"), 2)
	if string(outs[0]) != "half of the first" || outs[1] != nil || !slices.Equal(codes, []int{-1, -1}) {
		t.Errorf("outs = %q, codes = %v", outs, codes)
	}
}
