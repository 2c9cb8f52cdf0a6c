package config

import (
	"cmp"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/openimsdk/openim-deploy/internal/layout"
)

// Playbook defaults.
const (
	defaultKeepReleases = 5
	defaultTaskTimeout  = 60 * time.Second
	defaultLimitNOFILE  = 65536
)

// reservedFileSets are release subdirectories the tool owns: binaries,
// secret environment files and the readiness probe (internal/probe).
var reservedFileSets = map[string]bool{"bin": true, "env": true, "probe": true}

// rootRE is what app.root may contain: it becomes WorkingDirectory= and
// part of remote commands.
var rootRE = regexp.MustCompile(`^/[A-Za-z0-9_./-]*$`)

// playbookBody is the second decoding pass over a playbook, with var.*
// set. Blocks placed on hosts stay undecoded here: place evaluates them
// once per host.
type playbookBody struct {
	Apps      []*appBlock     `hcl:"app,block"`
	Locals    []*localsBlock  `hcl:"locals,block"`
	FileSets  []*placedBlock  `hcl:"files,block"`
	Templates []*placedBlock  `hcl:"template,block"`
	Tasks     []*placedBlock  `hcl:"task,block"`
	Services  []*placedBlock  `hcl:"service,block"`
	Rollouts  []*rolloutBlock `hcl:"rollout,block"`
	Hooks     []*placedBlock  `hcl:"hook,block"`
}

type appBlock struct {
	Name              string    `hcl:"name,label"`
	NameRange         hcl.Range `hcl:"name,label_range"`
	Root              string    `hcl:"root,optional"`
	RootRange         hcl.Range `hcl:"root,attr_range"`
	User              string    `hcl:"user,optional"`
	UserRange         hcl.Range `hcl:"user,attr_range"`
	KeepReleases      int       `hcl:"keep_releases,optional"`
	KeepReleasesRange hcl.Range `hcl:"keep_releases,attr_range"`
	Compress          string    `hcl:"compress,optional"`
	CompressRange     hcl.Range `hcl:"compress,attr_range"`
	SecretDelivery    string    `hcl:"secret_delivery,optional"`
	SecretDelivRange  hcl.Range `hcl:"secret_delivery,attr_range"`
	DefRange          hcl.Range `hcl:",def_range"`
}

type filesBlock struct {
	Name        string    `hcl:"name,label"`
	NameRange   hcl.Range `hcl:"name,label_range"`
	Source      string    `hcl:"source"`
	SourceRange hcl.Range `hcl:"source,attr_range"`
	Hosts       []string  `hcl:"hosts"`
	HostsRange  hcl.Range `hcl:"hosts,attr_range"`
	DefRange    hcl.Range `hcl:",def_range"`
}

// playbookSrc keeps the source ranges of the decoded playbook, parallel to
// the Playbook's slices, for the cross-checks in validate.go.
type playbookSrc struct {
	body      hcl.Body
	app       *appBlock
	fileSets  []*filesBlock
	templates []templateSrc
	tasks     []unitSrc
	services  []unitSrc
}

// templateSrc holds the source ranges of a template block.
type templateSrc struct {
	name, hosts, destination hcl.Range
}

// secretAttrs allows sensitive values in secret_environment only.
func secretAttrs(name string) bool { return name == "secret_environment" }

// decodePlaybook runs the second pass over the playbook body: locals once,
// then every placed block once as a declaration and once per host.
func (l *loader) decodePlaybook(file string, body hcl.Body, ctx *hcl.EvalContext, inv *Inventory) (*Playbook, *playbookSrc) {
	var raw playbookBody
	// app and rollout are decoded here, straight into Go values: a
	// sensitive value in them would make gohcl panic, so it is refused
	// with its location instead.
	l.diags = append(l.diags, gohcl.DecodeBody(l.guardBlocks(body, "app", "rollout"), ctx, &raw)...)
	pb := &Playbook{Filename: file}
	src := &playbookSrc{body: body}

	switch len(raw.Apps) {
	case 0:
		l.errorf(body.MissingItemRange(), hcl.Range{}, "Missing app block",
			`The playbook needs exactly one app "name" { } block: it names the systemd target and the layout on the hosts.`)
	default:
		for _, dup := range raw.Apps[1:] {
			l.errorf(dup.DefRange, hcl.Range{}, "Duplicate app block",
				"Only one app block is allowed; the first is at %s.", raw.Apps[0].DefRange)
		}
		src.app = raw.Apps[0]
		pb.App = l.decodeApp(raw.Apps[0])
	}

	ctx.Functions = functions(inv, filepath.Dir(file))
	l.evalLocals(raw.Locals, ctx)

	// Each block's per-host copy, kept for the hosts it is shared with
	// when its body does not mention host (see place).
	for _, b := range raw.FileSets {
		var last *FileSet
		l.place("files", b, inv, ctx, func(ctx *hcl.EvalContext, h *Host) []string {
			fb := &filesBlock{Name: b.Name, NameRange: b.NameRange, DefRange: b.DefRange}
			l.diags = append(l.diags, gohcl.DecodeBody(l.guard(b.Body, nil), ctx, fb)...)
			fs := l.decodeFileSet(file, fb)
			if h == nil {
				pb.FileSets = append(pb.FileSets, fs)
				src.fileSets = append(src.fileSets, fb)
			} else {
				last = fs
				l.hostPlacement(h).FileSets = append(l.hostPlacement(h).FileSets, fs)
			}
			return fb.Hosts
		}, func(h *Host) { l.hostPlacement(h).FileSets = append(l.hostPlacement(h).FileSets, last) })
	}
	for _, b := range raw.Templates {
		// A block that does not mention host decodes the same for every
		// host (place reports a host's diagnostics only where they differ
		// from the declaration's): it is decoded once, and each host only
		// renders the text.
		body, ok := b.Body.(*hclsyntax.Body)
		same := ok && !mentionsHost(body)
		var decoded *templateBlock
		// The text rendered for the first host, when neither the block
		// nor the template's text uses host: every host's is the same
		// (the functions a playbook can call are pure), and a fleet of
		// 1000 hosts renders it once, not 1000 times.
		var rendered *Template
		l.place("template", b, inv, ctx, func(ctx *hcl.EvalContext, h *Host) []string {
			var tb templateBlock
			if h != nil && decoded != nil {
				tb = *decoded
			} else {
				l.diags = append(l.diags, gohcl.DecodeBody(l.guard(b.Body, nil), ctx, &tb)...)
				if h == nil && same {
					cp := tb
					decoded = &cp
				}
			}
			if h != nil && rendered != nil {
				t := *rendered
				l.hostPlacement(h).Templates = append(l.hostPlacement(h).Templates, &t)
				return tb.Hosts
			}
			t := l.decodeTemplate(file, b, &tb, ctx, h)
			if h != nil && same && t.Content != nil && !l.templateUsesHost(t.Source) {
				rendered = t
			}
			if h == nil {
				pb.Templates = append(pb.Templates, t)
				src.templates = append(src.templates, templateSrc{name: b.NameRange, hosts: tb.HostsRange, destination: tb.DestinationRange})
			} else {
				l.hostPlacement(h).Templates = append(l.hostPlacement(h).Templates, t)
			}
			return tb.Hosts
		}, nil) // a template's text may use host even when its block does not
	}
	for _, b := range raw.Tasks {
		var last *Task
		l.place("task", b, inv, ctx, func(ctx *hcl.EvalContext, h *Host) []string {
			tb := &taskBlock{Name: b.Name, NameRange: b.NameRange, DefRange: b.DefRange}
			l.diags = append(l.diags, gohcl.DecodeBody(l.guard(b.Body, secretAttrs), ctx, tb)...)
			t, s := l.decodeTask(file, tb)
			if h == nil {
				pb.Tasks = append(pb.Tasks, t)
				src.tasks = append(src.tasks, s)
			} else {
				last = t
				l.hostPlacement(h).Tasks = append(l.hostPlacement(h).Tasks, t)
				l.hostSrc[&t.Unit] = s
			}
			return tb.Hosts
		}, func(h *Host) { l.hostPlacement(h).Tasks = append(l.hostPlacement(h).Tasks, last) })
	}
	pb.Rollout = DefaultRollout()
	for i, b := range raw.Rollouts {
		if i > 0 {
			l.errorf(b.DefRange, hcl.Range{}, "Duplicate rollout block", "A playbook has at most one top-level rollout block; a service may have its own.")
			continue
		}
		pb.Rollout = l.rollout(b, pb.Rollout, ctx)
	}
	for _, b := range raw.Services {
		var last *Service
		l.place("service", b, inv, ctx, func(ctx *hcl.EvalContext, h *Host) []string {
			sb := &serviceBlock{Name: b.Name, NameRange: b.NameRange, DefRange: b.DefRange}
			l.diags = append(l.diags, gohcl.DecodeBody(l.guard(b.Body, secretAttrs), ctx, sb)...)
			svc, s := l.decodeService(file, sb, ctx)
			if h == nil {
				svc.Rollout = l.rollout(sb.Rollout, pb.Rollout, ctx)
				pb.Services = append(pb.Services, svc)
				src.services = append(src.services, s)
			} else {
				// The rollout policy is the declaration's (Playbook.Services):
				// it does not vary by host, so per-host copies leave it unset.
				last = svc
				l.hostPlacement(h).Services = append(l.hostPlacement(h).Services, svc)
				l.hostSrc[&svc.Unit] = s
			}
			return sb.Hosts
		}, func(h *Host) { l.hostPlacement(h).Services = append(l.hostPlacement(h).Services, last) })
	}
	pb.Hooks = l.decodeHooks(raw.Hooks, ctx, pb.Services)
	return pb, src
}

// hostPlacement returns the placement being built for h.
func (l *loader) hostPlacement(h *Host) *HostPlacement {
	hp, ok := l.placed[h]
	if !ok {
		hp = &HostPlacement{Host: h}
		l.placed[h] = hp
	}
	return hp
}

func (l *loader) decodeApp(b *appBlock) App {
	app := App{Name: b.Name, Root: "/opt/" + b.Name, User: b.Name, KeepReleases: defaultKeepReleases, Compress: CompressAuto}
	if l.checkName(b.NameRange, b.DefRange, "app", b.Name) {
		l.checkReservedUnitName(b.NameRange, b.DefRange, "app", b.Name)
	}
	if l.has(b.RootRange) {
		app.Root = b.Root
		// ".." segments are refused rather than cleaned away: the root
		// is created, owned and pruned by the tool, and "/opt/../etc"
		// would quietly make that /etc.
		malformed := !rootRE.MatchString(b.Root) || path.Clean(b.Root) == "/" || slices.Contains(strings.Split(b.Root, "/"), "..")
		if malformed {
			l.errorf(b.RootRange, b.DefRange, "Invalid app root",
				"root = %q must be an absolute path other than \"/\", without \"..\", made of letters, digits, \"_\", \".\", \"-\" and \"/\".", b.Root)
		}
		app.Root = path.Clean(b.Root)
		if why := layout.RootRefusal(app.Root); why != "" && !malformed {
			l.errorf(b.RootRange, b.DefRange, "App root is a system directory",
				"root = %q is %s: the app root holds the tool's releases/ and current, and other software must not live in it. Use a directory of the app's own, such as \"/opt/%s\" or \"/srv/%s\".", b.Root, why, b.Name, b.Name)
		}
	}
	if l.has(b.UserRange) {
		app.User = b.User
		l.checkName(b.UserRange, b.DefRange, "user", b.User)
	}
	if l.has(b.KeepReleasesRange) {
		app.KeepReleases = b.KeepReleases
		if b.KeepReleases < 1 {
			l.errorf(b.KeepReleasesRange, b.DefRange, "Invalid keep_releases",
				"keep_releases = %d: at least 1 release (the current one) is kept.", b.KeepReleases)
		}
	}
	if l.has(b.CompressRange) {
		c, err := ParseCompress(b.Compress)
		if err != nil {
			l.errorf(b.CompressRange, b.DefRange, "Invalid compress", "compress = %q: %v.", b.Compress, err)
		}
		app.Compress = c
	}
	if l.has(b.SecretDelivRange) {
		switch d := SecretDelivery(b.SecretDelivery); d {
		case DeliverCredential, DeliverFile:
			app.SecretDelivery = d
		default:
			l.errorf(b.SecretDelivRange, b.DefRange, "Invalid secret_delivery",
				"secret_delivery = %q: must be \"credential\" (systemd credentials, encrypted at rest on the host; systemd 250 or newer) or \"file\" (0600 root files in the release).", b.SecretDelivery)
		}
	}
	return app
}

func (l *loader) decodeFileSet(file string, b *filesBlock) *FileSet {
	fs := &FileSet{Name: b.Name, Hosts: b.Hosts, DeclRange: b.DefRange}
	if l.checkName(b.NameRange, b.DefRange, "file set", b.Name) && reservedFileSets[b.Name] {
		l.errorf(b.NameRange, b.DefRange, "Reserved file set name",
			"%q is a directory the tool itself creates in each release; choose another name.", b.Name)
	}
	if l.has(b.SourceRange) {
		fs.Source = l.absPath(file, b.Source)
		fi, err := os.Stat(fs.Source)
		switch {
		case err != nil:
			l.errorf(b.SourceRange, b.DefRange, "File set source not found",
				"source %q (%s) does not exist or cannot be read.", b.Source, fs.Source)
		case !fi.IsDir() && !fi.Mode().IsRegular():
			l.errorf(b.SourceRange, b.DefRange, "Invalid file set source",
				"source %q is neither a regular file nor a directory.", b.Source)
		default:
			fs.IsDir = fi.IsDir()
			if fs.IsDir {
				err := WalkFileSet(fs.Source, func(rel, local string) error {
					fs.Files = append(fs.Files, SourceFile{Rel: rel, Local: local})
					return nil
				})
				if err != nil {
					l.errorf(b.SourceRange, b.DefRange, "Invalid file in file set",
						"source %q: %v.", b.Source, err)
				}
			}
		}
	}
	return fs
}

// secrets lists the values to redact: sensitive variables, the values of
// secret commands, every secret_environment value and every artifact's
// header, deduplicated,
// longest first so a secret that contains another is replaced whole.
func secrets(pb *Playbook, placements []HostPlacement) []string {
	units := pb.units()
	for _, hp := range placements {
		for _, t := range hp.Tasks {
			units = append(units, &t.Unit)
		}
		for _, s := range hp.Services {
			units = append(units, &s.Unit)
		}
	}
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, v := range pb.Variables {
		if v.Sensitive {
			add(v.Value)
		}
	}
	for _, s := range pb.Secrets {
		add(s.Value)
	}
	for _, u := range units {
		for _, k := range mapKeys(u.SecretEnvironment) {
			add(u.SecretEnvironment[k])
		}
		if u.Remote != nil {
			add(u.Remote.Header)
		}
	}
	for _, h := range pb.Hooks {
		for _, k := range mapKeys(h.SecretEnvironment) {
			add(h.SecretEnvironment[k])
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		if c := cmp.Compare(len(b), len(a)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	return out
}
