package cli

import (
	"context"
	"path"

	"github.com/openimsdk/openim-deploy/internal/phase"
	"github.com/openimsdk/openim-deploy/internal/plan"
)

// templateDiffs is the last plan phase: for every template whose rendered
// text changes on a host, it reads the text the host runs now (read-only)
// and prints a unified diff. A sensitive template is never read or shown:
// the plan says only that it changes.
type templateDiffs struct{}

// Title implements phase.Phase.
func (templateDiffs) Title() string { return "Template diffs" }

// Skip implements phase.Skipper.
func (templateDiffs) Skip(r *phase.Run) (string, bool) {
	for _, h := range r.Usable() {
		if len(changedTemplates(h)) > 0 {
			return "", false
		}
	}
	return "no template text changes", true
}

// Run implements phase.Phase. Diffs are collected per host and printed in
// inventory order, so output does not depend on which host answers first.
func (templateDiffs) Run(ctx context.Context, r *phase.Run) error {
	hosts := r.Usable()
	diffs := make([][][2]string, len(hosts))
	current := path.Join(r.Config.Playbook.App.Root, "current")
	_ = r.EachHost(ctx, func(ctx context.Context, h *phase.Host) error {
		i := indexOf(hosts, h)
		if i < 0 {
			return nil
		}
		for _, up := range changedTemplates(h) {
			var old []byte
			if _, existed := h.Actual.Releases[h.Actual.Current][up.Rel]; existed {
				var err error
				if old, err = h.Target.ReadFile(ctx, path.Join(current, up.Rel)); err != nil {
					diffs[i] = append(diffs[i], [2]string{up.Rel, "(current text not readable: " + err.Error() + ")"})
					continue
				}
			}
			diffs[i] = append(diffs[i], [2]string{up.Rel, plan.UnitDiff(up.Rel, old, up.Content)})
		}
		return nil
	})
	for i, h := range hosts {
		for _, d := range diffs[i] {
			r.Out.Block(h.Config.Name, "template "+d[0], r.Config.Redact(d[1]))
		}
	}
	return nil
}

// changedTemplates lists h's non-sensitive templates whose text differs
// from the one in the release current names (sent or linked alike).
func changedTemplates(h *phase.Host) []plan.Artifact {
	if h.Plan == nil {
		return nil
	}
	dest := map[string]bool{}
	for _, t := range h.Placement.Templates {
		if !t.Sensitive {
			dest[t.Destination] = true
		}
	}
	cur := h.Actual.Releases[h.Actual.Current]
	var out []plan.Artifact
	for _, a := range h.Desired.Artifacts {
		if dest[a.Rel] && !a.Secret && a.Content != nil && cur[a.Rel] != a.SHA256 {
			out = append(out, a)
		}
	}
	return out
}

func indexOf(hosts []*phase.Host, h *phase.Host) int {
	for i, x := range hosts {
		if x == h {
			return i
		}
	}
	return -1
}
