package phase

import (
	"time"

	"github.com/openimsdk/openim-deploy/internal/osinfo"
	"github.com/openimsdk/openim-deploy/internal/release"
	"github.com/openimsdk/openim-deploy/internal/target"
)

// inspection is the read-only program a run sends a host to learn, before
// the plan, what pre-flight judges (the host's facts, when wanted) and what
// the plan compares against (Gather's state), composed into one program:
// one round trip for both, and none of its own when it rides on the lock's.
// Each host's own inspection is judged alone, so a host goes on to its plan
// without waiting for slower ones to be read.
type inspection struct {
	facts    bool
	diskPath string
	names    []string // units in the order systemd answers for them
	root     string
}

// inspect prepares h's inspection; h.Desired must be built.
func inspect(r *Run, h *Host, facts bool, auditLines int) (*inspection, string, []string) {
	rh := r.releaseHost(h)
	names, req := gatherRequest(h.Desired, auditLines, r.Opts.ReadLedger)
	gs, ga := rh.GatherScript(req)
	in := &inspection{facts: facts, diskPath: r.Config.Playbook.App.Root, names: names, root: rh.Root}
	parts := []target.Part{{Script: gs, Args: ga}}
	if facts {
		parts = append([]target.Part{osinfo.DetectPart(in.diskPath)}, parts...)
	}
	script, args := target.Compose(parts...)
	return in, script, args
}

// record keeps what the inspection read on h: facts that parsed, and a
// state that parsed. A part that failed is left unread, so Preflight or
// Gather asks again on its own and reports the failure as theirs. sent
// and received bound when the host read its clock.
func (in *inspection) record(h *Host, out []byte, sent, received time.Time) {
	n := 1
	if in.facts {
		n = 2
	}
	outs, codes := target.SplitComposed(out, n)
	if in.facts && codes[0] == 0 {
		if f, err := osinfo.ParseDetect(outs[0], in.diskPath, sent, received); err == nil {
			f.Host = h.Target.Name()
			h.Facts, h.factsRead = f, true
		}
	}
	if codes[n-1] != 0 {
		return
	}
	st, err := release.ParseGather(outs[n-1])
	if err != nil {
		return
	}
	if a, err := actualFrom(st, in.names, in.root); err == nil {
		h.Actual, h.gathered = a, true
	}
}
