package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
)

// TestFunctionErrorsHideSensitiveValues pins that a function failing on
// a value derived from a secret says so without quoting it: go-cty's own
// messages do ("cannot convert \"hunter2\" to number"), and a derived
// value (lower, a substring, a path) is not a string the CLI can redact.
// The same call on a plain value keeps go-cty's message.
func TestFunctionErrorsHideSensitiveValues(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "t.tpl"), []byte("${tonumber(p)}"), 0o644))
	fns := functions(&Inventory{}, dir)
	ctx := &hcl.EvalContext{Functions: fns, Variables: map[string]cty.Value{
		"var": cty.ObjectVal(map[string]cty.Value{
			"pw":    cty.StringVal("HunTer2").Mark(sensitiveMark),
			"plain": cty.StringVal("HunTer2"),
		}),
	}}
	for _, src := range []string{
		`tonumber(lower(var.pw))`, `tobool(substr(var.pw, 1, 3))`, `file("${lower(var.pw)}.txt")`,
		`jsondecode(var.pw)`, `regex(var.pw, "x")`, `templatefile("t.tpl", { p = lower(var.pw) })`,
		`element(split("", lower(var.pw)), 99) + 1`,
	} {
		expr, diags := hclsyntax.ParseExpression([]byte(src), "test.hcl", hcl.InitialPos)
		require.False(t, diags.HasErrors(), src)
		_, diags = expr.Value(ctx)
		require.True(t, diags.HasErrors(), src)
		msg := strings.ToLower(diags.Error())
		require.NotContains(t, msg, "hunter2", src)
		require.NotContains(t, msg, "unte", src)
	}
	expr, _ := hclsyntax.ParseExpression([]byte(`tonumber(lower(var.plain))`), "test.hcl", hcl.InitialPos)
	_, diags := expr.Value(ctx)
	require.Contains(t, diags.Error(), `"hunter2"`, "a plain value's error is left as go-cty wrote it")
}
