package target

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Part is one constant script of a composed program (see Compose) and the
// positional arguments it sees as $1, $2, ...
type Part struct {
	Script string
	Args   []string
}

// partMarker ends each part's output, followed by its exit status.
const partMarker = "@@openim-deploy-part-rc@@ "

// Compose folds several constant scripts into one program, so a caller
// that needs what each prints opens one session instead of one per script.
// Each part runs as a shell function in its own subshell with stdin from
// /dev/null, sees exactly its own arguments, and may exit without ending
// the others; its output is followed by a marker line with its exit status
// (see SplitComposed). The program exits 0.
//
// The program text depends only on the parts' scripts and on how many
// arguments every part but the last takes: values still arrive as
// positional parameters (each part's slice is addressed as "${N}"), never
// inside the text. The last part may take any number of arguments.
func Compose(parts ...Part) (script string, args []string) {
	var b strings.Builder
	size := 16
	for _, p := range parts {
		size += len(p.Script) + 100 + 8*len(p.Args)
	}
	b.Grow(size) // the read composes tens of KB for every host: grown once
	for i, p := range parts {
		fmt.Fprintf(&b, "__openim_part%d() {\n%s\n}\n", i, p.Script)
	}
	next := 1 // the first positional parameter of the current part
	for i, p := range parts {
		b.WriteString("(")
		if i == len(parts)-1 {
			if next > 1 {
				fmt.Fprintf(&b, " shift %d;", next-1)
			}
			fmt.Fprintf(&b, " __openim_part%d \"$@\"", i)
		} else {
			fmt.Fprintf(&b, " __openim_part%d", i)
			for j := range p.Args {
				fmt.Fprintf(&b, ` "${%d}"`, next+j)
			}
		}
		fmt.Fprintf(&b, " ) </dev/null\nprintf '\\n%s%%s\\n' \"$?\"\n", partMarker)
		next += len(p.Args)
		args = append(args, p.Args...)
	}
	b.WriteString("exit 0\n")
	return b.String(), args
}

// SplitComposed cuts the output of a program made by Compose of n parts
// into each part's output and exit status. A part that did not report
// (the program was cut short) has status -1 and whatever it printed. The
// last part's marker is searched from the end, so output it passes on from
// files (the marker text included) cannot shift the parts before it.
func SplitComposed(out []byte, n int) (outs [][]byte, codes []int) {
	outs, codes = make([][]byte, n), make([]int, n)
	for i := range codes {
		codes[i] = -1
	}
	rest := out
	for i := 0; i < n; i++ {
		j := bytes.Index(rest, []byte("\n"+partMarker))
		if i == n-1 {
			j = bytes.LastIndex(rest, []byte("\n"+partMarker))
		}
		if j < 0 {
			outs[i] = rest
			return outs, codes
		}
		outs[i] = rest[:j]
		rest = rest[j+1+len(partMarker):]
		status, after, _ := bytes.Cut(rest, []byte("\n"))
		code, err := strconv.Atoi(string(status))
		if err != nil {
			return outs, codes
		}
		codes[i], rest = code, after
	}
	return outs, codes
}
