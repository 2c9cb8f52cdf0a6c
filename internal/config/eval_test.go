package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
)

// TestFunctions pins the function set the issue promises and what a few
// of them mean here: coalesce skips "" as in Terraform, file and
// templatefile read relative to the playbook, hosts() sees the inventory.
func TestFunctions(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "greet.tpl"), []byte("hi ${who}"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "motd"), []byte("welcome\n"), 0o644))
	inv := &Inventory{Hosts: []*Host{
		{Name: "a", Address: "10.0.0.1", SSH: SSH{User: "root", Port: 22}, Groups: []string{"etcd"}, Vars: map[string]string{"zone": "x"}},
		{Name: "b", Address: "10.0.0.2", SSH: SSH{User: "ops", Port: 2222}, Groups: []string{"etcd", "app"}},
	}}
	fns := functions(inv, dir)
	for _, name := range []string{"join", "split", "format", "formatlist", "concat", "length", "element", "slice",
		"contains", "distinct", "sort", "keys", "values", "lookup", "merge", "range", "lower", "upper", "replace",
		"trimspace", "tostring", "tonumber", "coalesce", "jsonencode", "yamlencode", "file", "templatefile", "hosts"} {
		require.Contains(t, fns, name)
	}
	ctx := &hcl.EvalContext{Functions: fns, Variables: map[string]cty.Value{}}
	tests := map[string]string{
		`coalesce("", "fallback")`:                                                 "fallback",
		`coalesce("set", "fallback")`:                                              "set",
		`trimspace(file("motd"))`:                                                  "welcome",
		`templatefile("greet.tpl", { who = "ops" })`:                               "hi ops",
		`join(",", [for h in hosts("etcd") : "${h.name}@${h.address}:${h.port}"])`: "a@10.0.0.1:22,b@10.0.0.2:2222",
		`hosts("etcd[1]")[0].user`:                                                 "ops",
		`join(",", hosts("all")[0].groups)`:                                        "etcd",
		`lookup(hosts("app")[0].vars, "zone", "none")`:                             "none",
		`tostring(length(hosts("etcd[0:1]")))`:                                     "2",
		`yamlencode({ zone = hosts("a")[0].vars.zone })`:                           "\"zone\": \"x\"\n",
		`format("%s-%03d", upper("pv"), tonumber("7"))`:                            "PV-007",
	}
	for src, want := range tests {
		expr, diags := hclsyntax.ParseExpression([]byte(src), "test.hcl", hcl.InitialPos)
		require.False(t, diags.HasErrors(), diags.Error())
		v, diags := expr.Value(ctx)
		require.False(t, diags.HasErrors(), "%s: %s", src, diags.Error())
		require.Equal(t, want, v.AsString(), src)
	}
	for src, msg := range map[string]string{
		`hosts("nope")`:                 `no host or group "nope" is in the inventory`,
		`hosts("etcd[2]")`:              `host pattern "etcd[2]" matches no host: etcd has 2 hosts (positions 0 to 1`,
		`file("missing")`:               "cannot read",
		`templatefile("greet.tpl", {})`: `There is no variable named "who"`,
	} {
		expr, diags := hclsyntax.ParseExpression([]byte(src), "test.hcl", hcl.InitialPos)
		require.False(t, diags.HasErrors())
		_, diags = expr.Value(ctx)
		require.True(t, diags.HasErrors(), src)
		require.Contains(t, diags.Error(), msg, src)
	}
}

// TestSensitiveMarkSurvives pins that the mark survives every way of
// reshaping a secret, so the guard can find it.
func TestSensitiveMarkSurvives(t *testing.T) {
	fns := functions(&Inventory{}, t.TempDir())
	ctx := &hcl.EvalContext{Functions: fns, Variables: map[string]cty.Value{
		"var": cty.ObjectVal(map[string]cty.Value{"pw": cty.StringVal("hunter2").Mark(sensitiveMark)}),
	}}
	for _, src := range []string{
		`var.pw`, `"x${var.pw}y"`, `upper(var.pw)`, `jsonencode({ a = var.pw })`, `[for c in split("", var.pw) : c]`,
		`var.pw == "" ? "a" : "b"`, `tostring(strlen(var.pw))`, `replace(var.pw, "h", "")`, `{ k = var.pw }`,
		`templatefile("/dev/null", { p = var.pw })`,
	} {
		expr, diags := hclsyntax.ParseExpression([]byte(src), "test.hcl", hcl.InitialPos)
		require.False(t, diags.HasErrors(), src)
		v, diags := expr.Value(ctx)
		require.False(t, diags.HasErrors(), "%s: %s", src, diags.Error())
		require.True(t, v.ContainsMarked(), "%s lost the sensitive mark", src)
	}
}
