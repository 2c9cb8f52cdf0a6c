package phase

import (
	"fmt"
	"strings"

	"github.com/openimsdk/openim-deploy/internal/plan"
	"github.com/openimsdk/openim-deploy/internal/ui"
)

// WritePlan prints the plan per host, in inventory order and in the order
// apply would act: files, release switch, units, reload, enable, then starts
// by dependency wave. Units new on a host (a cold deploy) print as one line
// each, with what they need counted, unless -v or --output json ask for
// every action; changes to what runs now are always printed in full.
func WritePlan(out *ui.Printer, p *plan.Plan) {
	for _, hp := range p.Hosts {
		if !hp.Changed() {
			out.Event(ui.Event{Type: "plan", Host: hp.Host, Msg: "no changes"}, fmt.Sprintf("[%s] no changes", hp.Host))
			continue
		}
		sum := hp.NewUnits
		if out.JSON() || out.IsVerbose() {
			sum = nil
		}
		summarised := false
		for i, a := range hp.Actions {
			switch {
			case sum.Covers(i):
				if !summarised {
					writeNewUnits(out, hp.Host, sum)
					summarised = true
				}
			case sum != nil && a.Kind == plan.KindEnable && sum.EnableNew > 0:
				writeAction(out, hp.Host, a, enableDesc(sum))
			default:
				writeAction(out, hp.Host, a, a.Desc)
			}
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

// writeAction prints one action; desc replaces its Desc on a terminal (the
// JSON event always carries the action itself).
func writeAction(out *ui.Printer, host string, a plan.Action, desc string) {
	text := fmt.Sprintf("[%s] %s %s", host, symbol(a.Kind), desc)
	if a.Detail != "" {
		text += "\n" + indent(a.Detail, "      ")
	}
	out.Event(ui.Event{Type: "plan", Host: host, Msg: a.Desc, Fields: map[string]any{
		"kind": string(a.Kind), "unit": a.Unit, "path": a.Path, "wave": a.Wave, "detail": a.Detail,
	}}, text)
}

// writeNewUnits prints one line per new unit, and one for the files
// several of them share: "+ openim-push: 2 files (17.1 MiB), 1 unit, 8
// instances to start". Identical hosts fold into one line as usual.
func writeNewUnits(out *ui.Printer, host string, sum *plan.NewUnits) {
	line := func(msg string) {
		out.Event(ui.Event{Type: "plan", Host: host, Msg: msg, Fields: map[string]any{"kind": "summary"}},
			fmt.Sprintf("[%s] + %s", host, msg))
	}
	if sum.Shared.Files > 0 {
		line(fmt.Sprintf("%s shared by the new units", files(sum.Shared)))
	}
	for _, u := range sum.Units {
		parts := []string{}
		if u.Files.Files > 0 {
			parts = append(parts, files(u.Files))
		}
		parts = append(parts, count(u.UnitFiles, "unit", "units"))
		if u.Task {
			parts = append(parts, "run once")
		} else {
			parts = append(parts, count(u.Starts, "instance", "instances")+" to start")
		}
		line(u.Unit + ": " + strings.Join(parts, ", "))
	}
}

// enableDesc is the enable action with the new units' instances counted,
// not listed: they are named by the lines above.
func enableDesc(sum *plan.NewUnits) string {
	news := "the " + count(sum.EnableNew, "instance", "instances") + " of the new units above"
	if len(sum.EnableRest) == 0 {
		return "enable " + news
	}
	return "enable " + strings.Join(sum.EnableRest, " ") + " and " + news
}

// files says how many files and what they send: "2 files (12.0 MiB)",
// or "(nothing to send)" when each is already on the host or is the same
// content as a file sent for another name.
func files(fc plan.FileCount) string {
	size := ui.Bytes(fc.Bytes)
	if fc.Bytes == 0 {
		size = "nothing to send"
	}
	return fmt.Sprintf("%s (%s)", count(fc.Files, "file", "files"), size)
}

func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
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
