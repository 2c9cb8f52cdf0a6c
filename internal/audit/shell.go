package audit

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"regexp"
	"strings"
)

// shellish matches what marks a string as a shell program: a positional
// parameter ($1, "$@", $#, ${1...}), a redirection to /dev/null, or an
// exit with a status.
var shellish = regexp.MustCompile(`\$[1-9@#]|\$\{[1-9@#]|2>/dev/null|(?m)(^|[;{|&]\s*)exit [0-9]`)

// InlineShell parses one Go source file and returns a message, with
// file:line:col, for every multi-line raw string that reads as a shell
// program. On-host shell lives in embedded files (scripts/*.sh beside the
// Go that sends it, see internal/shellcheck), where shellcheck sees it and
// its header documents its arguments and exit statuses; a program in a Go
// string is seen by neither.
func InlineShell(filename string, src []byte) ([]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filename, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	var found []string
	ast.Inspect(f, func(n ast.Node) bool {
		lit, ok := n.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING || !strings.HasPrefix(lit.Value, "`") || !strings.Contains(lit.Value, "\n") {
			return true
		}
		if shellish.MatchString(lit.Value) {
			first, _, _ := strings.Cut(strings.TrimPrefix(lit.Value, "`"), "\n")
			found = append(found, fmt.Sprintf("%s: shell in a Go string (%q...): move it to an embedded scripts/*.sh", fset.Position(lit.Pos()), first))
		}
		return true
	})
	return found, nil
}
