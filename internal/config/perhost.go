package config

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// placedBlock is a files, template, task or service block before
// evaluation: its body is decoded once per host it is placed on.
type placedBlock struct {
	Name      string    `hcl:"name,label"`
	NameRange hcl.Range `hcl:"name,label_range"`
	Body      hcl.Body  `hcl:",remain"`
	DefRange  hcl.Range `hcl:",def_range"`
}

// hostFree are the attributes, per block type, that decide placement or
// the dependency graph and so must not vary by host.
var hostFree = map[string][]string{
	"files":    {"hosts"},
	"template": {"hosts"},
	"task":     {"hosts", "depends_on", "files"},
	"service":  {"hosts", "depends_on", "files"},
}

// placeFunc decodes one block under ctx. h is nil for the declaration pass,
// in which host is unknown; it returns the block's hosts selectors.
type placeFunc func(ctx *hcl.EvalContext, h *Host) []string

// place decodes a block once as a declaration, with host unknown, which
// reports every problem that does not depend on the host once; then once
// per host the block is placed on, with host set. Problems found only in
// the per-host passes are reported once each, naming the hosts they occur
// on.
//
// A block whose body never mentions host decodes to the same value on every
// host, so it is decoded for the first host only and share gives that copy
// to the others (as Config.Placement shares declarations): a 500-host
// inventory otherwise spends most of its load time decoding identical
// service blocks. share nil decodes on every host.
func (l *loader) place(kind string, b *placedBlock, inv *Inventory, base *hcl.EvalContext, decode placeFunc, share func(h *Host)) {
	body, _ := b.Body.(*hclsyntax.Body)
	if body != nil {
		for _, name := range hostFree[kind] {
			if a, ok := body.Attributes[name]; ok {
				for _, tr := range a.Expr.Variables() {
					if tr.RootName() == "host" {
						l.errorf(tr.SourceRange(), b.DefRange, "host in "+name,
							"%s decides where the block is placed or in which order it starts, so it is the same for every host and cannot use host.", name)
					}
				}
			}
		}
	}

	proto := base.NewChild()
	proto.Variables = map[string]cty.Value{"host": cty.UnknownVal(hostType)}
	start := len(l.diags)
	selectors := decode(proto, nil)
	// Values that are unknown only because host is make gohcl say "value
	// must be known"; they were needed while decoding (has() skips those
	// attributes) and mean nothing now.
	kept := l.diags[:start]
	seen := map[string]bool{}
	for _, d := range l.diags[start:] {
		if isUnknownNoise(d) {
			continue
		}
		kept = append(kept, d)
		seen[diagKey(d)] = true
	}
	l.diags = kept

	hosts := selectHosts(inv, selectors)
	type group struct {
		d     *hcl.Diagnostic
		hosts []string
	}
	var groups []*group
	byKey := map[string]*group{}
	// A body that does not mention host has no host.vars to miss: its
	// walk is skipped for every host (templates are decoded per host for
	// their text even then).
	mentions := body == nil || mentionsHost(body)
	shared := share != nil && !mentions
	for i, h := range hosts {
		if shared && i > 0 {
			share(h)
			continue
		}
		ctx := base.NewChild()
		ctx.Variables = map[string]cty.Value{"host": l.hostValue(h)}
		start := len(l.diags)
		var missing []hcl.Range
		if mentions {
			missing = l.missingHostVars(body, b.DefRange, h)
		}
		decode(ctx, h)
		for _, d := range l.diags[start:] {
			key := diagKey(d)
			if seen[key] || isUnknownNoise(d) || (d.Summary != missingHostVar && within(d.Subject, missing)) {
				continue
			}
			g, ok := byKey[key]
			if !ok {
				g = &group{d: d}
				byKey[key] = g
				groups = append(groups, g)
			}
			g.hosts = append(g.hosts, h.Name)
		}
		l.diags = l.diags[:start]
	}
	for _, g := range groups {
		d := *g.d
		d.Detail = strings.TrimSpace(d.Detail) + " " + onHosts(g.hosts)
		l.diags = append(l.diags, &d)
	}
}

// hostValue is h's "host" object, built once per load.
func (l *loader) hostValue(h *Host) cty.Value {
	v, ok := l.hostValues[h]
	if !ok {
		v = hostValue(h)
		l.hostValues[h] = v
	}
	return v
}

// mentionsHost reports whether any expression in body, or in a block
// nested in it, refers to host.
func mentionsHost(body *hclsyntax.Body) bool {
	for _, a := range body.Attributes {
		for _, tr := range a.Expr.Variables() {
			if tr.RootName() == "host" {
				return true
			}
		}
	}
	for _, blk := range body.Blocks {
		if mentionsHost(blk.Body) {
			return true
		}
	}
	return false
}

const missingHostVar = "Missing host variable"

// missingHostVars reports every host.vars.KEY (or host.vars["KEY"]) in body
// that h does not define, and returns the ranges of those references so
// the evaluation errors they cause are not reported a second time.
func (l *loader) missingHostVars(body *hclsyntax.Body, def hcl.Range, h *Host) []hcl.Range {
	if body == nil {
		return nil
	}
	var out []hcl.Range
	var walk func(b *hclsyntax.Body)
	walk = func(b *hclsyntax.Body) {
		for _, a := range b.Attributes {
			for _, tr := range a.Expr.Variables() {
				key, ok := hostVarKey(tr)
				if !ok {
					continue
				}
				if _, has := h.Vars[key]; !has {
					r := tr.SourceRange()
					out = append(out, r)
					l.errorf(r, def, missingHostVar,
						"host.vars.%s is not set for this host. Set it in the host's vars in the inventory, or give a default with lookup(host.vars, %q, \"...\").", key, key)
				}
			}
		}
		for _, blk := range b.Blocks {
			walk(blk.Body)
		}
	}
	walk(body)
	return out
}

// hostVarKey returns KEY for a traversal host.vars.KEY or host.vars["KEY"].
func hostVarKey(tr hcl.Traversal) (string, bool) {
	if tr.RootName() != "host" || len(tr) < 3 {
		return "", false
	}
	if step, ok := tr[1].(hcl.TraverseAttr); !ok || step.Name != "vars" {
		return "", false
	}
	switch step := tr[2].(type) {
	case hcl.TraverseAttr:
		return step.Name, true
	case hcl.TraverseIndex:
		if step.Key.Type() == cty.String && step.Key.IsKnown() && !step.Key.IsMarked() {
			return step.Key.AsString(), true
		}
	}
	return "", false
}

// within reports whether r lies inside any of ranges.
func within(r *hcl.Range, ranges []hcl.Range) bool {
	if r == nil {
		return false
	}
	for _, m := range ranges {
		if r.Filename == m.Filename && r.Start.Byte >= m.Start.Byte && r.End.Byte <= m.End.Byte {
			return true
		}
	}
	return false
}

// isUnknownNoise reports gohcl's complaint about an unknown value: it only
// follows an unknown host (declaration pass) or another error.
func isUnknownNoise(d *hcl.Diagnostic) bool {
	return d.Summary == "Unsuitable value type" && strings.Contains(d.Detail, "value must be known")
}

func diagKey(d *hcl.Diagnostic) string {
	key := fmt.Sprintf("%d|%s|%s", d.Severity, d.Summary, d.Detail)
	if d.Subject != nil {
		key += "|" + d.Subject.String()
	}
	return key
}

// onHosts names the hosts a problem occurs on, at most 10 of them.
func onHosts(hosts []string) string {
	const shown = 10
	list := hosts
	more := ""
	if len(hosts) > shown {
		list, more = hosts[:shown], fmt.Sprintf(" and %d more", len(hosts)-shown)
	}
	word := "host"
	if len(hosts) > 1 {
		word = "hosts"
	}
	return fmt.Sprintf("(On %s %s%s.)", word, strings.Join(list, ", "), more)
}
