package config

import (
	"cmp"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// localsBlock is one locals { } block: free-form name = expression pairs.
type localsBlock struct {
	Body     hcl.Body  `hcl:",remain"`
	DefRange hcl.Range `hcl:",def_range"`
}

// localDef is one local value with where it was declared.
type localDef struct {
	attr  *hcl.Attribute
	block hcl.Range
	deps  []string // local names it refers to, in source order
	// usesHost is set when the local refers to host (reported).
	usesHost bool
}

// evalLocals evaluates every local once, before any host, in dependency
// order, and sets local.* in ctx. A local may use var, hosts(), the
// functions and other locals, never host. Cycles are reported naming the
// cycle; a local that fails is unknown, so its users add no more errors.
func (l *loader) evalLocals(blocks []*localsBlock, ctx *hcl.EvalContext) {
	defs := map[string]*localDef{}
	var order []string
	for _, b := range blocks {
		attrs, diags := b.Body.JustAttributes()
		l.diags = append(l.diags, diags...)
		list := make([]*hcl.Attribute, 0, len(attrs))
		for _, a := range attrs {
			list = append(list, a)
		}
		slices.SortFunc(list, func(a, b *hcl.Attribute) int { return cmp.Compare(a.Range.Start.Byte, b.Range.Start.Byte) })
		for _, a := range list {
			if prev, dup := defs[a.Name]; dup {
				l.errorf(a.NameRange, b.DefRange, "Duplicate local value",
					"local.%s is already defined at %s.", a.Name, prev.attr.Range)
				continue
			}
			d := &localDef{attr: a, block: b.DefRange}
			for _, tr := range a.Expr.Variables() {
				switch tr.RootName() {
				case "host":
					d.usesHost = true
					l.errorf(tr.SourceRange(), b.DefRange, "host in a local value",
						"Locals are evaluated once, before any host, so they cannot use host. Use hosts(\"GROUP\") for the members of a group, or move the expression into the block that needs it.")
				case "local":
					if len(tr) > 1 {
						if step, ok := tr[1].(hcl.TraverseAttr); ok {
							d.deps = append(d.deps, step.Name)
						}
					}
				}
			}
			defs[a.Name] = d
			order = append(order, a.Name)
		}
	}

	values := map[string]cty.Value{}
	const (
		unvisited = iota
		active
		done
	)
	state := map[string]int{}
	var stack []string
	var visit func(name string)
	visit = func(name string) {
		d := defs[name]
		state[name] = active
		stack = append(stack, name)
		for _, dep := range d.deps {
			if _, ok := defs[dep]; !ok {
				continue // reported when evaluated: unknown attribute of local
			}
			switch state[dep] {
			case unvisited:
				visit(dep)
			case active:
				cyc := append(slices.Clone(stack[slices.Index(stack, dep):]), dep)
				first := defs[cyc[0]]
				l.errorf(first.attr.NameRange, first.block, "Local value cycle: local."+strings.Join(cyc, " -> local."),
					"Each local may use others only if they do not, in turn, use it.")
				for _, n := range cyc {
					values[n] = cty.DynamicVal
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[name] = done
		if _, failed := values[name]; failed {
			return
		}
		if d.usesHost {
			values[name] = cty.DynamicVal
			return
		}
		ctx.Variables["local"] = cty.ObjectVal(values)
		v, diags := d.attr.Expr.Value(ctx)
		l.diags = append(l.diags, diags...)
		if diags.HasErrors() {
			v = cty.DynamicVal
		}
		values[name] = v
	}
	for _, name := range order {
		if state[name] == unvisited {
			visit(name)
		}
	}
	ctx.Variables["local"] = cty.ObjectVal(values)
}
