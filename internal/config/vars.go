package config

import (
	"cmp"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/openimsdk/openim-deploy/internal/agefile"
)

// variableBlock is a decoded variable "name" {} block.
type variableBlock struct {
	Name        string         `hcl:"name,label"`
	NameRange   hcl.Range      `hcl:"name,label_range"`
	Default     hcl.Expression `hcl:"default,optional"`
	Sensitive   bool           `hcl:"sensitive,optional"`
	Description string         `hcl:"description,optional"`
	DefRange    hcl.Range      `hcl:",def_range"`
}

// playbookVars is the first decoding pass over a playbook: the variable
// blocks, and everything else left in Remain for the second pass, which
// needs the variables in its EvalContext (the Packer/Nomad pattern).
type playbookVars struct {
	Variables []*variableBlock `hcl:"variable,block"`
	Secrets   []*secretBlock   `hcl:"secret,block"`
	Remain    hcl.Body         `hcl:",remain"`
}

// decodeVariables decodes the variable blocks, applies values from every
// source (default < environment < var files < -var) and returns the
// variables, the rest of the playbook body, and the EvalContext with var.*.
func (l *loader) decodeVariables(pb *hcl.File, varFiles []*hcl.File) ([]*Variable, hcl.Body, *hcl.EvalContext) {
	var raw playbookVars
	l.diags = append(l.diags, gohcl.DecodeBody(pb.Body, nil, &raw)...)
	l.secretBlocks = raw.Secrets // decoded by decodeSecrets, under var.*

	var vars []*Variable
	byName := map[string]*Variable{}
	blocks := map[string]*variableBlock{}
	for _, b := range raw.Variables {
		if !hclsyntax.ValidIdentifier(b.Name) {
			l.errorf(b.NameRange, b.DefRange, "Invalid variable name",
				"Variable name %q must be a valid identifier: letters, digits, \"_\" and \"-\", starting with a letter.", b.Name)
			continue
		}
		if prev, dup := blocks[b.Name]; dup {
			l.errorf(b.NameRange, b.DefRange, "Duplicate variable",
				"Variable %q is already declared at %s.", b.Name, prev.DefRange)
			continue
		}
		blocks[b.Name] = b
		v := &Variable{Name: b.Name, Sensitive: b.Sensitive, Description: b.Description}
		if b.Default != nil {
			val, diags := b.Default.Value(nil)
			l.diags = append(l.diags, diags...)
			v.set = diags.HasErrors() // reported; do not also call it missing
			if !diags.HasErrors() && !val.IsNull() {
				// A value that is not a string was reported by ctyString;
				// do not also call the variable missing.
				v.Value, _ = l.ctyString(b.Default.Range(), b.DefRange, val)
				v.set = true
			}
		}
		vars = append(vars, v)
		byName[b.Name] = v
	}

	l.varsFromEnviron(byName)
	for i, f := range varFiles {
		encrypted := ""
		if agefile.IsEncrypted(l.opts.VarFiles[i]) {
			encrypted = l.opts.VarFiles[i]
		}
		l.varsFromFile(f, byName, encrypted)
	}
	for _, name := range mapKeys(l.opts.Vars) {
		v, ok := byName[name]
		if !ok {
			l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError,
				Summary: "Value for undeclared variable",
				Detail:  "-var " + name + "=...: the playbook declares no variable \"" + name + "\"." + suggest(name, mapKeys(byName))})
			continue
		}
		v.Value, v.set, v.encrypted = l.opts.Vars[name], true, ""
	}

	obj := map[string]cty.Value{}
	for _, v := range vars {
		if !v.set {
			b := blocks[v.Name]
			l.errorf(b.NameRange, b.DefRange, "No value for required variable",
				"Variable %q has no default. Set it with -var %s=VALUE, a -var-file, or the %s%s environment variable.",
				v.Name, v.Name, EnvVarPrefix, v.Name)
		}
		obj[v.Name] = cty.StringVal(v.Value)
		if v.encrypted != "" {
			// A value from an encrypted file is a secret, whatever the
			// playbook declares: it was encrypted for a reason.
			v.Sensitive = true
			l.sensitiveWhy["var."+v.Name] = "var." + v.Name + ", from the encrypted var file " + v.encrypted
		}
		if v.Sensitive {
			obj[v.Name] = obj[v.Name].Mark(sensitiveMark)
		}
	}
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(obj)}}
	return vars, raw.Remain, ctx
}

// varsFromEnviron applies OPENIM_DEPLOY_VAR_<name>=value. Unknown names are
// ignored: one shell may serve several playbooks, as with Terraform's TF_VAR_.
func (l *loader) varsFromEnviron(byName map[string]*Variable) {
	for _, kv := range l.opts.Environ {
		rest, ok := strings.CutPrefix(kv, EnvVarPrefix)
		if !ok {
			continue
		}
		name, value, _ := strings.Cut(rest, "=")
		if v, ok := byName[name]; ok {
			v.Value, v.set, v.encrypted = value, true, ""
		}
	}
}

// varsFromFile applies a var file's name = value attributes, in file order.
// encrypted is the file's path when it was an age file, else "".
func (l *loader) varsFromFile(f *hcl.File, byName map[string]*Variable, encrypted string) {
	attrs, diags := f.Body.JustAttributes()
	l.diags = append(l.diags, diags...)
	list := make([]*hcl.Attribute, 0, len(attrs))
	for _, a := range attrs {
		list = append(list, a)
	}
	slices.SortFunc(list, func(a, b *hcl.Attribute) int { return cmp.Compare(a.Range.Start.Byte, b.Range.Start.Byte) })
	for _, a := range list {
		v, ok := byName[a.Name]
		if !ok {
			l.warnf(a.NameRange, a.Range, "Value for undeclared variable",
				"The playbook declares no variable %q; this value is ignored.%s", a.Name, suggest(a.Name, mapKeys(byName)))
			continue
		}
		val, diags := a.Expr.Value(nil)
		l.diags = append(l.diags, diags...)
		if diags.HasErrors() {
			continue
		}
		if s, ok := l.ctyString(a.Expr.Range(), a.Range, val); ok {
			v.Value, v.set, v.encrypted = s, true, encrypted
		}
	}
}

// ctyString converts a primitive value to a string; variables are strings.
func (l *loader) ctyString(r, ctx hcl.Range, val cty.Value) (string, bool) {
	s, err := convert.Convert(val, cty.String)
	if err != nil || s.IsNull() || !s.IsKnown() {
		l.errorf(r, ctx, "Invalid variable value", "Variable values must be strings, numbers or bools.")
		return "", false
	}
	return s.AsString(), true
}
