package phase

import (
	"fmt"
	"strings"

	"github.com/openimsdk/openim-deploy/internal/plan"
	"github.com/openimsdk/openim-deploy/internal/ui"
)

// WritePlan prints the plan per host, in inventory order and in the order
// apply would act: files, release switch, units, reload, enable, then starts
// by dependency wave.
func WritePlan(out *ui.Printer, p *plan.Plan) {
	for _, hp := range p.Hosts {
		if !hp.Changed() {
			out.Event(ui.Event{Type: "plan", Host: hp.Host, Msg: "no changes"}, fmt.Sprintf("[%s] no changes", hp.Host))
			continue
		}
		for _, a := range hp.Actions {
			text := fmt.Sprintf("[%s] %s %s", hp.Host, symbol(a.Kind), a.Desc)
			if a.Detail != "" {
				text += "\n" + indent(a.Detail, "      ")
			}
			out.Event(ui.Event{Type: "plan", Host: hp.Host, Msg: a.Desc, Fields: map[string]any{
				"kind": string(a.Kind), "unit": a.Unit, "path": a.Path, "wave": a.Wave, "detail": a.Detail,
			}}, text)
		}
	}
	n, hosts := 0, 0
	var bytes int64
	for _, hp := range p.Hosts {
		if hp.Changed() {
			hosts++
			n += len(hp.Actions)
			bytes += hp.BytesToSend()
		}
	}
	if n == 0 {
		out.Event(ui.Event{Type: "plan_summary", Msg: "no changes"}, "Plan: no changes.")
		return
	}
	out.Event(ui.Event{Type: "plan_summary", Fields: map[string]any{"actions": n, "hosts": hosts, "bytes": bytes}},
		fmt.Sprintf("Plan: %d actions on %d hosts, %d bytes to send.", n, hosts, bytes))
}

func symbol(k plan.Kind) string {
	switch k {
	case plan.KindUpload, plan.KindUnit, plan.KindRelease:
		return "~"
	case plan.KindRemove:
		return "-"
	default:
		return "+"
	}
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}
