package config

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"

	"github.com/openimsdk/openim-deploy/internal/agefile"
)

// LoadOptions says which files to load and where variable values come from.
type LoadOptions struct {
	// InventoryPath is the inventory file (-i).
	InventoryPath string
	// PlaybookPath overrides the inventory's playbook attribute (-p).
	PlaybookPath string
	// Vars are -var name=value values; they win over every other source.
	Vars map[string]string
	// VarFiles are -var-file paths: HCL files of name = "value" lines,
	// applied in order, later files winning. A path ending in .age is
	// decrypted in memory with the age identities named by Environ
	// (agefile.IdentityPath), and every value it sets is sensitive.
	VarFiles []string
	// Environ is os.Environ(); OPENIM_DEPLOY_VAR_<name> sets variable <name>.
	Environ []string
	// SkipPlaybook loads the inventory only (commands that need no playbook).
	SkipPlaybook bool
	// HomeDir is what a leading ~ expands to; "" means os.UserHomeDir().
	HomeDir string
	// SecretRunner runs the commands of the playbook's secret blocks
	// (ExecSecret on the command line). Nil runs none: secret.* are then
	// unknown values, and what is computed from them is left out of the
	// Config, for commands that never write a release (status, logs) and
	// for shell completion, which must not run commands at every Tab.
	SecretRunner SecretRunner
}

// EnvVarPrefix prefixes environment variables that set playbook variables.
const EnvVarPrefix = "OPENIM_DEPLOY_VAR_"

// loader carries the state of one Load call.
type loader struct {
	opts   LoadOptions
	parser *hclparse.Parser
	home   string
	diags  hcl.Diagnostics
	// order ranks file names by parse order, for sorting diagnostics.
	order map[string]int
	// syntaxErr is set when a file could not be read or parsed.
	syntaxErr bool
	// playbookRange is the inventory's playbook attribute.
	playbookRange hcl.Range
	// templates caches parsed template sources by absolute path, and
	// templateSrc their bytes, for diagnostics with snippets.
	templates   map[string]*parsedTemplate
	templateSrc map[string][]byte
	// placed collects the per-host evaluated copies of placed blocks.
	placed map[*Host]*HostPlacement
	// hostSrc holds the source ranges of the per-host unit copies.
	hostSrc map[*Unit]unitSrc
	// age holds the identities that decrypt .age var files, once loaded.
	age *ageKeys
	// sensitiveWhy says, for a reference such as "var.pw", why it is
	// sensitive when the playbook does not declare it so.
	sensitiveWhy map[string]string
	// secretBlocks are the playbook's secret blocks from the first pass;
	// secrets their state once decoded.
	secretBlocks []*secretBlock
	secrets      *secretsState
	// hostValues caches each host's "host" object: every placed block
	// evaluates with it, once per host.
	hostValues map[*Host]cty.Value
}

// Load parses, decodes and validates the inventory and (unless
// opts.SkipPlaybook) the playbook. The returned Config is never nil: when the
// diagnostics hold errors it is incomplete and only Files is meaningful, so a
// caller can still render the diagnostics with source snippets.
//
// Diagnostics come back sorted by file (inventory, playbook, var files) and
// position, so output is stable however the checks are ordered internally.
func Load(opts LoadOptions) (*Config, hcl.Diagnostics) {
	l := &loader{opts: opts, parser: hclparse.NewParser(), home: opts.HomeDir, order: map[string]int{},
		templates: map[string]*parsedTemplate{}, templateSrc: map[string][]byte{}, placed: map[*Host]*HostPlacement{}, hostSrc: map[*Unit]unitSrc{},
		sensitiveWhy: map[string]string{}, hostValues: map[*Host]cty.Value{}}
	if l.home == "" {
		l.home, _ = os.UserHomeDir()
	}
	cfg := &Config{}
	cfg.Inventory = l.load(cfg)
	cfg.Files = l.parser.Files()
	// Var files hold secrets: a diagnostic about one (a value missing its
	// quotes) must not print its line, so they get no source snippets.
	for _, p := range l.opts.VarFiles {
		delete(cfg.Files, p)
	}
	for name, src := range l.templateSrc {
		cfg.Files[name] = &hcl.File{Bytes: src}
	}
	return cfg, l.finish()
}

// load does the work of Load; it returns nil inventory when parsing failed.
func (l *loader) load(cfg *Config) *Inventory {
	invFile := l.parse(l.opts.InventoryPath)
	if l.syntaxErr {
		return nil // syntax errors: decoding would only add noise
	}
	inv := l.decodeInventory(invFile)
	if l.opts.SkipPlaybook {
		return inv
	}
	pbPath := l.opts.PlaybookPath
	if pbPath == "" {
		pbPath = inv.Playbook
	}
	if pbPath == "" {
		l.diags = append(l.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "No playbook",
			Detail:   "The inventory names no playbook. Set playbook = \"...\" in the inventory or pass -p PLAYBOOK.",
			Subject:  invFile.Body.MissingItemRange().Ptr(),
		})
		return inv
	}
	if _, err := os.Stat(pbPath); err != nil && l.opts.PlaybookPath == "" {
		l.errorf(l.playbookRange, hcl.Range{}, "Playbook not found",
			"The playbook %s named here cannot be read: %s.", pbPath, errors.Unwrap(err))
		return inv
	}
	pbFile := l.parse(pbPath)
	varFiles := make([]*hcl.File, len(l.opts.VarFiles))
	for i, p := range l.opts.VarFiles {
		if agefile.IsEncrypted(p) {
			varFiles[i] = l.parseEncrypted(p)
		} else {
			varFiles[i] = l.parse(p)
		}
	}
	if l.syntaxErr {
		return inv
	}
	vars, body, ctx := l.decodeVariables(pbFile, varFiles)
	declared := l.decodeSecrets(pbPath, pbFile, ctx)
	pb, src := l.decodePlaybook(pbPath, body, ctx, inv)
	pb.Variables, pb.Secrets = vars, declared
	cfg.Inventory, cfg.Playbook = inv, pb
	cfg.placements = make([]HostPlacement, 0, len(inv.Hosts))
	for _, h := range inv.Hosts {
		hp := HostPlacement{Host: h}
		if p, ok := l.placed[h]; ok {
			hp = *p
		}
		cfg.placements = append(cfg.placements, hp)
	}
	cfg.Secrets = secrets(pb, cfg.placements)
	l.validate(cfg, src)
	return inv
}

// parse reads and parses one HCL file, recording its parse order.
func (l *loader) parse(path string) *hcl.File {
	if _, ok := l.order[path]; !ok {
		l.order[path] = len(l.order)
	}
	f, diags := l.parser.ParseHCLFile(path)
	l.diags = append(l.diags, diags...)
	l.syntaxErr = l.syntaxErr || diags.HasErrors()
	return f
}

// finish dedupes diagnostics (health blocks are decoded once per instance,
// which repeats instance-independent problems) and sorts them by position.
func (l *loader) finish() hcl.Diagnostics {
	seen := map[string]bool{}
	var out hcl.Diagnostics
	for _, d := range l.diags {
		if d.Summary == "Unsuitable value type" && strings.Contains(d.Detail, "value must be known") {
			// Only follows another error in the same expression (our
			// EvalContext holds no unknowns): the first error says it all.
			continue
		}
		key := fmt.Sprintf("%d|%s|%s", d.Severity, d.Summary, d.Detail)
		if d.Subject != nil {
			key += "|" + d.Subject.String()
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		// hcl's long format prints the values of the variables an expression
		// used ("with var.mongo_password as ..."): never let it, since any
		// of them may be sensitive.
		d.EvalContext = nil
		out = append(out, d)
	}
	slices.SortStableFunc(out, func(a, b *hcl.Diagnostic) int {
		if a.Subject == nil || b.Subject == nil {
			// Diagnostics without a position (e.g. a bad -var) come first.
			return cmp.Compare(boolInt(a.Subject != nil), boolInt(b.Subject != nil))
		}
		if c := cmp.Compare(l.rank(a.Subject.Filename), l.rank(b.Subject.Filename)); c != 0 {
			return c
		}
		return cmp.Compare(a.Subject.Start.Byte, b.Subject.Start.Byte)
	})
	return out
}

func (l *loader) rank(filename string) int {
	if r, ok := l.order[filename]; ok {
		return r
	}
	return len(l.order)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// errorf appends an error diagnostic about subject inside the block at context.
func (l *loader) errorf(subject, context hcl.Range, summary, detail string, args ...any) {
	l.diag(hcl.DiagError, subject, context, summary, detail, args...)
}

// warnf appends a warning diagnostic about subject inside the block at context.
func (l *loader) warnf(subject, context hcl.Range, summary, detail string, args ...any) {
	l.diag(hcl.DiagWarning, subject, context, summary, detail, args...)
}

func (l *loader) diag(sev hcl.DiagnosticSeverity, subject, context hcl.Range, summary, detail string, args ...any) {
	d := &hcl.Diagnostic{Severity: sev, Summary: summary, Detail: fmt.Sprintf(detail, args...)}
	if subject.Filename != "" {
		d.Subject = subject.Ptr()
	}
	if context.Filename != "" {
		d.Context = context.Ptr()
	}
	l.diags = append(l.diags, d)
}

// localPath resolves a path written in file against that file's directory,
// after expanding a leading ~ to the home directory.
func (l *loader) localPath(file, p string) string {
	if p == "" {
		return ""
	}
	if p == "~" || strings.HasPrefix(p, "~/") {
		p = filepath.Join(l.home, p[1:])
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(filepath.Dir(file), p)
	}
	return filepath.Clean(p)
}

// absPath is localPath made absolute, for paths stored as absolute.
func (l *loader) absPath(file, p string) string {
	p = l.localPath(file, p)
	if p == "" {
		return ""
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// has reports whether an attribute was written and decoded without error,
// so checks on its value do not pile onto a type error.
func (l *loader) has(r hcl.Range) bool {
	if !set(r) {
		return false
	}
	for _, d := range l.diags {
		if d.Severity == hcl.DiagError && d.Subject != nil && d.Subject.Filename == r.Filename &&
			d.Subject.Start.Byte < r.End.Byte && r.Start.Byte < d.Subject.End.Byte {
			return false
		}
	}
	return true
}

// set reports whether an attr_range field was filled, i.e. the attribute
// was present in the source.
func set(r hcl.Range) bool { return r.Filename != "" }
