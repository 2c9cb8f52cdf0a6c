package config

import (
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Template is a file rendered per host and pushed into each release at
// Destination. It is a file set for restart purposes: a change of its
// rendered text on a host restarts the units there that use it.
type Template struct {
	Name string
	// Source is the absolute path of the HCL template.
	Source string
	// Destination is relative to the release directory, slash-separated
	// and clean ("config/discovery.yml"). It may lie inside a file set's
	// directory; then the rendered file replaces that file set's copy.
	Destination string
	Hosts       []string // selectors
	Mode        fs.FileMode
	// Sensitive templates may use sensitive values; they are written 0600
	// and their text is never printed or diffed.
	Sensitive bool
	// Content is the text rendered for the host this copy is placed on. It
	// is nil in Playbook.Templates, which holds the declarations; the
	// per-host copies are in Config.Placement.
	Content   []byte
	DeclRange hcl.Range
}

// Template defaults.
const (
	defaultTemplateMode   fs.FileMode = 0o644
	sensitiveTemplateMode fs.FileMode = 0o600
)

// templateReserved are names a template's vars may not take: they would
// hide the built-ins.
var templateReserved = map[string]bool{"var": true, "local": true, "host": true, "instance": true, "secret": true}

type templateBlock struct {
	Source           string         `hcl:"source"`
	SourceRange      hcl.Range      `hcl:"source,attr_range"`
	Destination      string         `hcl:"destination"`
	DestinationRange hcl.Range      `hcl:"destination,attr_range"`
	Hosts            []string       `hcl:"hosts"`
	HostsRange       hcl.Range      `hcl:"hosts,attr_range"`
	Mode             string         `hcl:"mode,optional"`
	ModeRange        hcl.Range      `hcl:"mode,attr_range"`
	Vars             hcl.Expression `hcl:"vars,optional"`
	VarsRange        hcl.Range      `hcl:"vars,attr_range"`
	Sensitive        bool           `hcl:"sensitive,optional"`
	SensitiveRange   hcl.Range      `hcl:"sensitive,attr_range"`
}

// parsedTemplate is a template source parsed once, however many hosts
// render it.
type parsedTemplate struct {
	expr hclsyntax.Expression
	vars []hcl.Traversal // expr.Variables(), walked once
	ok   bool
}

// decodeTemplate decodes one template block. With h set it also renders
// the template for h, with ctx holding host.
func (l *loader) decodeTemplate(file string, pb *placedBlock, b *templateBlock, ctx *hcl.EvalContext, h *Host) *Template {
	t := &Template{Name: pb.Name, Hosts: b.Hosts, Mode: defaultTemplateMode, Sensitive: b.Sensitive, DeclRange: pb.DefRange}
	if l.checkName(pb.NameRange, pb.DefRange, "template", pb.Name) && reservedFileSets[pb.Name] {
		l.errorf(pb.NameRange, pb.DefRange, "Reserved file set name",
			"%q is a directory the tool itself creates in each release; choose another name.", pb.Name)
	}
	if l.has(b.DestinationRange) {
		t.Destination = l.checkDestination(b.DestinationRange, pb.DefRange, b.Destination)
	}
	if l.has(b.ModeRange) {
		m, err := strconv.ParseUint(b.Mode, 8, 32)
		switch {
		case err != nil || m > 0o777 || !strings.HasPrefix(b.Mode, "0") || len(b.Mode) != 4:
			l.errorf(b.ModeRange, pb.DefRange, "Invalid mode",
				"mode = %q must be four octal digits such as \"0644\" or \"0640\".", b.Mode)
		case b.Sensitive && fs.FileMode(m) != sensitiveTemplateMode:
			l.errorf(b.ModeRange, pb.DefRange, "Invalid mode",
				"A sensitive template is always written 0600, root-owned; leave mode out.")
		default:
			t.Mode = fs.FileMode(m)
		}
	}
	if t.Sensitive {
		t.Mode = sensitiveTemplateMode
	}
	var tpl *parsedTemplate
	if l.has(b.SourceRange) {
		t.Source = l.absPath(file, b.Source)
		tpl = l.parseTemplate(b.SourceRange, pb.DefRange, b.Source, t.Source)
	}
	vars := map[string]cty.Value{}
	varsOK := true
	if set(b.VarsRange) {
		expr := b.Vars
		if g, ok := expr.(*guardedExpr); ok {
			expr = g.Expression // keep the marks: the rendered text decides
		}
		v, diags := expr.Value(ctx)
		l.diags = append(l.diags, diags...)
		switch {
		case diags.HasErrors() || !v.IsWhollyKnown():
			varsOK = false // reported, or unknown until host is known
		case v.IsNull() || !(v.Type().IsObjectType() || v.Type().IsMapType()):
			l.errorf(b.VarsRange, pb.DefRange, "Invalid template vars",
				"vars must be an object of names to values, such as { port = 2379 }.")
		default:
			for it := v.ElementIterator(); it.Next(); {
				k, ev := it.Element()
				name := k.AsString()
				if templateReserved[name] || !hclsyntax.ValidIdentifier(name) {
					l.errorf(b.VarsRange, pb.DefRange, "Invalid template variable name",
						"%q cannot name a template variable: names must be identifiers other than var, local, secret, host and instance.", name)
					continue
				}
				vars[name] = ev
			}
		}
	}
	if h == nil && tpl != nil && tpl.ok {
		// The template's text may refer to secrets the playbook's blocks
		// do not: run those now, once, before any host renders it.
		l.needSecrets(tpl.vars)
	}
	if h == nil || tpl == nil || !tpl.ok || !varsOK {
		return t
	}
	missing := false
	for _, tr := range tpl.vars {
		if key, ok := hostVarKey(tr); ok {
			if _, has := h.Vars[key]; !has {
				missing = true
				l.errorf(tr.SourceRange(), pb.DefRange, missingHostVar,
					"host.vars.%s is not set for this host. Set it in the host's vars in the inventory, or give a default with lookup(host.vars, %q, \"...\").", key, key)
			}
		}
	}
	if missing {
		return t
	}
	child := ctx.NewChild()
	child.Variables = vars
	val, diags := tpl.expr.Value(child)
	l.diags = append(l.diags, diags...)
	if diags.HasErrors() || !val.IsWhollyKnown() {
		return t
	}
	if val.ContainsMarked() && !t.Sensitive {
		subject := b.SourceRange
		var names []string
		for _, tr := range tpl.vars {
			if v, d := tr.TraverseAbs(child); !d.HasErrors() && v.ContainsMarked() {
				subject = tr.SourceRange()
				names = append(names, string(tr.SourceRange().SliceBytes(l.templateSrc[t.Source])))
				break
			}
		}
		if len(names) == 0 {
			names = []string{"through a function or expression"}
		}
		l.errorf(subject, pb.DefRange, "Sensitive value in a template",
			"Template %q uses a sensitive value (%s) but is not declared sensitive = true. A sensitive template is written 0600, root-owned, and never diffed in plain text.",
			t.Name, strings.Join(names, ", "))
		return t
	}
	val, _ = val.UnmarkDeep()
	if val.IsNull() || val.Type() != cty.String {
		l.errorf(b.SourceRange, pb.DefRange, "Invalid template result", "Template %q did not render to text.", t.Name)
		return t
	}
	t.Content = []byte(val.AsString())
	return t
}

// checkDestination cleans a release-relative destination and rejects
// paths that leave the release or land in the directories the tool owns.
func (l *loader) checkDestination(r, ctx hcl.Range, dst string) string {
	clean := path.Clean(dst)
	first, _, _ := strings.Cut(clean, "/")
	ok := dst != "" && !path.IsAbs(dst) && clean != "." && clean != ".." && !strings.HasPrefix(clean, "../")
	for _, seg := range strings.Split(clean, "/") {
		ok = ok && nameRE.MatchString(seg)
	}
	switch {
	case !ok:
		l.errorf(r, ctx, "Invalid destination",
			"destination = %q must be a relative path inside the release (such as \"config/discovery.yml\"), each part made of letters, digits, \"_\", \".\" and \"-\".", dst)
	case reservedFileSets[first]:
		l.errorf(r, ctx, "Invalid destination",
			"destination = %q lies in %s/, a directory the tool itself manages in each release.", dst, first)
	}
	return clean
}

// templateUsesHost reports whether the template text at abs (parsed by
// parseTemplate) refers to host, so renders differently per host.
func (l *loader) templateUsesHost(abs string) bool {
	t, ok := l.templates[abs]
	if !ok || !t.ok {
		return true
	}
	for _, tr := range t.vars {
		if tr.RootName() == "host" {
			return true
		}
	}
	return false
}

// parseTemplate reads and parses a template source once per Load.
func (l *loader) parseTemplate(r, ctx hcl.Range, raw, abs string) *parsedTemplate {
	if t, ok := l.templates[abs]; ok {
		return t
	}
	t := &parsedTemplate{}
	l.templates[abs] = t
	src, err := os.ReadFile(abs)
	if err != nil {
		l.errorf(r, ctx, "Template source not found", "source %q (%s) does not exist or cannot be read.", raw, abs)
		return t
	}
	l.templateSrc[abs] = src
	l.order[abs] = len(l.order)
	expr, diags := hclsyntax.ParseTemplate(src, abs, hcl.InitialPos)
	l.diags = append(l.diags, diags...)
	t.expr, t.ok = expr, !diags.HasErrors()
	if t.ok {
		t.vars = expr.Variables()
	}
	return t
}
