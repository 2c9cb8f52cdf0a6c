package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	ctyyaml "github.com/zclconf/go-cty-yaml"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"github.com/openimsdk/openim-deploy/internal/selector"
)

// sensitiveMark marks every value derived from a sensitive variable. cty
// carries marks through interpolation, functions, for expressions and
// conditionals, so a secret cannot be laundered on its way to args or unit
// text: the guard that decodes those attributes finds the mark and refuses.
const sensitiveMark = "sensitive"

// hostType is the type of host and of each element of hosts("GROUP").
var hostType = cty.Object(map[string]cty.Type{
	"name":    cty.String,
	"address": cty.String,
	"port":    cty.Number,
	"user":    cty.String,
	"groups":  cty.List(cty.String),
	"vars":    cty.Map(cty.String),
})

// hostValue is h as the playbook sees it.
func hostValue(h *Host) cty.Value {
	groups := cty.ListValEmpty(cty.String)
	if len(h.Groups) > 0 {
		gs := make([]cty.Value, len(h.Groups))
		for i, g := range h.Groups {
			gs[i] = cty.StringVal(g)
		}
		groups = cty.ListVal(gs)
	}
	vars := cty.MapValEmpty(cty.String)
	if len(h.Vars) > 0 {
		vs := map[string]cty.Value{}
		for k, v := range h.Vars {
			vs[k] = cty.StringVal(v)
		}
		vars = cty.MapVal(vs)
	}
	// host.user and host.port are what the inventory says, else the
	// built-in defaults: evaluation happens before any connection, so an
	// ssh_config User or Port (applied when the inventory is silent) is
	// not known here.
	user, port := h.User, h.Port
	if user == "" {
		user = DefaultUser
	}
	if port == 0 {
		port = DefaultPort
	}
	return cty.ObjectVal(map[string]cty.Value{
		"name":    cty.StringVal(h.Name),
		"address": cty.StringVal(h.Address),
		"port":    cty.NumberIntVal(int64(port)),
		"user":    cty.StringVal(user),
		"groups":  groups,
		"vars":    vars,
	})
}

// functions is the function table of playbook expressions and templates:
// the Terraform set from go-cty's stdlib, yamlencode/yamldecode, file and
// templatefile (paths relative to the playbook's directory) and hosts().
// The inventory is the whole inventory, never a --limit subset, so member
// lists are the same however few hosts one run touches.
func functions(inv *Inventory, dir string) map[string]function.Function {
	fns := map[string]function.Function{
		"abs": stdlib.AbsoluteFunc, "ceil": stdlib.CeilFunc, "floor": stdlib.FloorFunc,
		"max": stdlib.MaxFunc, "min": stdlib.MinFunc, "parseint": stdlib.ParseIntFunc,
		"pow": stdlib.PowFunc, "signum": stdlib.SignumFunc, "log": stdlib.LogFunc,

		"chomp": stdlib.ChompFunc, "format": stdlib.FormatFunc, "formatlist": stdlib.FormatListFunc,
		"indent": stdlib.IndentFunc, "join": stdlib.JoinFunc, "lower": stdlib.LowerFunc,
		"upper": stdlib.UpperFunc, "regex": stdlib.RegexFunc, "regexall": stdlib.RegexAllFunc,
		"replace": stdlib.ReplaceFunc, "split": stdlib.SplitFunc, "strrev": stdlib.ReverseFunc,
		"substr": stdlib.SubstrFunc, "title": stdlib.TitleFunc, "trim": stdlib.TrimFunc,
		"trimprefix": stdlib.TrimPrefixFunc, "trimsuffix": stdlib.TrimSuffixFunc,
		"trimspace": stdlib.TrimSpaceFunc, "strlen": stdlib.StrlenFunc,

		"chunklist": stdlib.ChunklistFunc, "coalesce": stdlib.CoalesceFunc,
		"coalescelist": stdlib.CoalesceListFunc, "compact": stdlib.CompactFunc,
		"concat": stdlib.ConcatFunc, "contains": stdlib.ContainsFunc, "distinct": stdlib.DistinctFunc,
		"element": stdlib.ElementFunc, "flatten": stdlib.FlattenFunc, "index": stdlib.IndexFunc,
		"keys": stdlib.KeysFunc, "length": stdlib.LengthFunc, "lookup": stdlib.LookupFunc,
		"merge": stdlib.MergeFunc, "range": stdlib.RangeFunc, "reverse": stdlib.ReverseListFunc,
		"setintersection": stdlib.SetIntersectionFunc, "setproduct": stdlib.SetProductFunc,
		"setsubtract": stdlib.SetSubtractFunc, "setunion": stdlib.SetUnionFunc,
		"slice": stdlib.SliceFunc, "sort": stdlib.SortFunc, "values": stdlib.ValuesFunc,
		"zipmap": stdlib.ZipmapFunc,

		"tobool": stdlib.MakeToFunc(cty.Bool), "tolist": stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
		"tomap": stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)), "tonumber": stdlib.MakeToFunc(cty.Number),
		"toset": stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)), "tostring": stdlib.MakeToFunc(cty.String),

		"csvdecode": stdlib.CSVDecodeFunc, "jsondecode": stdlib.JSONDecodeFunc,
		"jsonencode": stdlib.JSONEncodeFunc, "yamldecode": ctyyaml.YAMLDecodeFunc,
		"yamlencode": ctyyaml.YAMLEncodeFunc,
	}
	fns["coalesce"] = coalesceFunc
	fns["hosts"] = hostsFunc(inv)
	fns["file"] = fileFunc(dir)
	for name, fn := range fns {
		fns[name] = quietOnSecrets(fn)
	}
	// templatefile sees the functions too, but not itself: a template that
	// renders itself would never end.
	inner := make(map[string]function.Function, len(fns))
	for k, v := range fns {
		inner[k] = v
	}
	fns["templatefile"] = quietOnSecrets(templateFileFunc(dir, inner))
	// artifact takes sensitive values itself (its header must be one) and
	// words its errors without them, so it is not wrapped; a template has
	// no use for it.
	fns["artifact"] = artifactFunc
	return fns
}

// quietOnSecrets wraps fn so that, when any argument is sensitive, an
// error it returns does not reach a diagnostic: go-cty's messages quote
// the value ("cannot convert \"s3cret\" to number"), and a value derived
// from a secret (lower(var.pw)) is no longer the string the CLI redacts.
// Marks are left to fn: its parameters are made to accept marked values
// only so the wrapper sees them, and fn.Call then handles them exactly as
// the table entry would (unmark, call, mark the result).
func quietOnSecrets(fn function.Function) function.Function {
	params := fn.Params()
	for i := range params {
		params[i].AllowMarked = true
	}
	var varParam *function.Parameter
	if vp := fn.VarParam(); vp != nil {
		cp := *vp
		cp.AllowMarked = true
		varParam = &cp
	}
	return function.New(&function.Spec{
		Description: fn.Description(),
		Params:      params,
		VarParam:    varParam,
		Type: func(args []cty.Value) (cty.Type, error) {
			ty, err := fn.ReturnTypeForValues(args)
			return ty, quietError(err, args)
		},
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			v, err := fn.Call(args)
			return v, quietError(err, args)
		},
	})
}

// quietError replaces err, when any of args is sensitive, by a message
// that names the argument but holds nothing of its value.
func quietError(err error, args []cty.Value) error {
	if err == nil || !slices.ContainsFunc(args, cty.Value.ContainsMarked) {
		return err
	}
	const msg = "the function failed on a sensitive value; its message is not shown, as it may quote the value"
	var argErr function.ArgError
	if errors.As(err, &argErr) {
		return function.NewArgErrorf(argErr.Index, msg)
	}
	return errors.New(msg)
}

// coalesceFunc is Terraform's coalesce: the first argument that is neither
// null nor an empty string. go-cty's skips only nulls, which surprises
// anyone writing coalesce(var.optional, "default").
var coalesceFunc = function.New(&function.Spec{
	Description: "The first argument that is neither null nor an empty string.",
	VarParam:    &function.Parameter{Name: "vals", Type: cty.DynamicPseudoType, AllowNull: true, AllowUnknown: true},
	Type: func(args []cty.Value) (cty.Type, error) {
		return stdlib.CoalesceFunc.ReturnTypeForValues(args)
	},
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		var keep []cty.Value
		for _, v := range args {
			if v.IsKnown() && !v.IsNull() && v.Type() == cty.String && v.AsString() == "" {
				continue
			}
			keep = append(keep, v)
		}
		return stdlib.Coalesce(keep...)
	},
})

// hostsFunc is hosts(SELECTOR): the hosts a selector picks ("all", a
// group, a host, GROUP[N], GROUP[A:B]) in inventory order.
func hostsFunc(inv *Inventory) function.Function {
	return function.New(&function.Spec{
		Description: "The hosts of a group (or any selector) in inventory order.",
		Params:      []function.Parameter{{Name: "selector", Type: cty.String}},
		Type:        function.StaticReturnType(cty.List(hostType)),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			raw := args[0].AsString()
			hosts, err := resolveHosts(inv, []string{raw})
			if err != nil {
				known := selectorNames(inv)
				// hcl ends the message with a period itself.
				var nm *selector.NoMatchError
				if errors.As(err, &nm) && nm.Unknown != "" {
					if hint := suggest(nm.Unknown, known); hint != "" {
						return cty.NilVal, function.NewArgErrorf(0, "%s; did you mean %s", err, strings.TrimSuffix(strings.TrimPrefix(hint, " Did you mean "), "?"))
					}
				}
				return cty.NilVal, function.NewArgError(0, err)
			}
			if len(hosts) == 0 {
				return cty.NilVal, function.NewArgErrorf(0, "host pattern %q leaves no host", raw)
			}
			vals := make([]cty.Value, len(hosts))
			for i, h := range hosts {
				vals[i] = hostValue(h)
			}
			return cty.ListVal(vals), nil
		},
	})
}

// selectorNames lists "all", every host name and every group, in
// inventory order.
func selectorNames(inv *Inventory) []string {
	seen := map[string]bool{"all": true}
	out := []string{"all"}
	for _, h := range inv.Hosts {
		for _, n := range append([]string{h.Name}, h.Groups...) {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	return out
}

// fileFunc is file(PATH): a file's text, the path relative to dir.
func fileFunc(dir string) function.Function {
	return function.New(&function.Spec{
		Description: "The contents of a file, its path relative to the playbook.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			b, err := readRelative(dir, args[0].AsString())
			if err != nil {
				return cty.NilVal, function.NewArgError(0, err)
			}
			return cty.StringVal(string(b)), nil
		},
	})
}

// templateFileFunc is templatefile(PATH, VARS): the file rendered as an HCL
// template with VARS as its only variables, as in Terraform.
func templateFileFunc(dir string, fns map[string]function.Function) function.Function {
	return function.New(&function.Spec{
		Description: "A file rendered as an HCL template with the given variables.",
		Params: []function.Parameter{
			{Name: "path", Type: cty.String},
			{Name: "vars", Type: cty.DynamicPseudoType},
		},
		Type: function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := args[0].AsString()
			vars := args[1]
			if !vars.Type().IsObjectType() && !vars.Type().IsMapType() {
				return cty.NilVal, function.NewArgErrorf(1, "vars must be an object or map")
			}
			b, err := readRelative(dir, p)
			if err != nil {
				return cty.NilVal, function.NewArgError(0, err)
			}
			expr, diags := hclsyntax.ParseTemplate(b, filepath.Join(dir, p), hcl.InitialPos)
			if diags.HasErrors() {
				return cty.NilVal, function.NewArgError(0, diags)
			}
			ctx := &hcl.EvalContext{Variables: map[string]cty.Value{}, Functions: fns}
			for it := vars.ElementIterator(); it.Next(); {
				k, v := it.Element()
				ctx.Variables[k.AsString()] = v
			}
			val, diags := expr.Value(ctx)
			if diags.HasErrors() {
				return cty.NilVal, function.NewArgError(0, diags)
			}
			return val, nil
		},
	})
}

// readRelative reads p, resolved against dir when relative.
func readRelative(dir, p string) ([]byte, error) {
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", p, unwrapPathError(err))
	}
	return b, nil
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// guardedBody decodes like the body it wraps, but every attribute value
// is checked for the sensitive mark and handed on unmarked: gohcl cannot
// convert marked values, and only attributes named in allow may carry
// secrets at all. Nested blocks and remaining bodies stay guarded.
type guardedBody struct {
	hcl.Body
	l *loader
	// allow says whether attribute name (at this nesting level) may hold
	// sensitive values; nil allows none.
	allow func(name string) bool
	// blocks, when set, names the only nested block types guarded here;
	// the others are left to be guarded where they are decoded (the
	// playbook's top level guards app and rollout, while service and task
	// bodies are guarded, with their own allowances, later).
	blocks map[string]bool
}

func (l *loader) guard(b hcl.Body, allow func(string) bool) *guardedBody {
	return &guardedBody{Body: b, l: l, allow: allow}
}

// guardBlocks guards the nested blocks of b of the given types, nothing
// else: a sensitive value there is a diagnostic, never a panic in gohcl.
func (l *loader) guardBlocks(b hcl.Body, types ...string) *guardedBody {
	g := &guardedBody{Body: b, l: l, blocks: map[string]bool{}}
	for _, t := range types {
		g.blocks[t] = true
	}
	return g
}

func (g *guardedBody) wrap(c *hcl.BodyContent) *hcl.BodyContent {
	if c == nil {
		return nil
	}
	attrs := make(hcl.Attributes, len(c.Attributes))
	for name, a := range c.Attributes {
		cp := *a
		cp.Expr = &guardedExpr{Expression: a.Expr, g: g, name: name}
		attrs[name] = &cp
	}
	blocks := make(hcl.Blocks, len(c.Blocks))
	for i, b := range c.Blocks {
		cp := *b
		if g.blocks == nil || g.blocks[b.Type] {
			cp.Body = &guardedBody{Body: b.Body, l: g.l} // nested blocks hold no secrets
		}
		blocks[i] = &cp
	}
	return &hcl.BodyContent{Attributes: attrs, Blocks: blocks, MissingItemRange: c.MissingItemRange}
}

// Content implements hcl.Body.
func (g *guardedBody) Content(s *hcl.BodySchema) (*hcl.BodyContent, hcl.Diagnostics) {
	c, diags := g.Body.Content(s)
	return g.wrap(c), diags
}

// PartialContent implements hcl.Body.
func (g *guardedBody) PartialContent(s *hcl.BodySchema) (*hcl.BodyContent, hcl.Body, hcl.Diagnostics) {
	c, rest, diags := g.Body.PartialContent(s)
	return g.wrap(c), &guardedBody{Body: rest, l: g.l, allow: g.allow, blocks: g.blocks}, diags
}

// JustAttributes implements hcl.Body.
func (g *guardedBody) JustAttributes() (hcl.Attributes, hcl.Diagnostics) {
	attrs, diags := g.Body.JustAttributes()
	c := g.wrap(&hcl.BodyContent{Attributes: attrs})
	return c.Attributes, diags
}

// guardedExpr is one attribute's expression under a guardedBody.
type guardedExpr struct {
	hcl.Expression
	g    *guardedBody
	name string
}

// Value implements hcl.Expression: the wrapped value, unmarked, plus an
// error when it carries a secret where none may go.
func (e *guardedExpr) Value(ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	v, diags := e.Expression.Value(ctx)
	if !v.ContainsMarked() {
		return v, diags
	}
	v, _ = v.UnmarkDeep()
	if e.g.allow != nil && e.g.allow(e.name) {
		return v, diags
	}
	rng := e.Expression.Range()
	diags = append(diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Sensitive value in " + e.name,
		Detail: fmt.Sprintf("This value is derived from a sensitive variable (%s). Sensitive values may reach only secret_environment, templates declared sensitive = true and the header of artifact(), so they never land in unit files, command lines, health probes or plain-text diffs.",
			strings.Join(e.g.l.explainRoots(sensitiveRoots(e.Expression, ctx)), ", ")),
		Subject: &rng,
	})
	return cty.DynamicVal, diags
}

// sensitiveRoots names the var.*, local.* and secret.* references of expr
// whose value is marked, for the error message.
func sensitiveRoots(expr hcl.Expression, ctx *hcl.EvalContext) []string {
	var out []string
	seen := map[string]bool{}
	for _, tr := range expr.Variables() {
		root := tr.RootName()
		if (root != "var" && root != "local" && root != "secret") || len(tr) < 2 {
			continue
		}
		step, ok := tr[1].(hcl.TraverseAttr)
		if !ok {
			continue
		}
		name := root + "." + step.Name
		if seen[name] {
			continue
		}
		v, diags := tr[:2].TraverseAbs(ctx)
		if !diags.HasErrors() && v.ContainsMarked() {
			seen[name] = true
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		return []string{"through a function or expression"}
	}
	return out
}
