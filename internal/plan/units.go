// The systemd side of a plan: unit files, daemon-reload, enable, and the
// start/restart/run actions (shared by Build and Rollback).

package plan

import (
	"bytes"
	"fmt"
	"strings"
)

// planUnitFiles lists the unit files whose installed text differs.
func planUnitFiles(hp *HostPlan, d Desired, a Actual) {
	for _, uf := range d.UnitFiles {
		old, ok := a.UnitFiles[uf.Name]
		if ok && bytes.Equal(old, uf.Content) {
			continue
		}
		hp.UnitFiles = append(hp.UnitFiles, uf)
		desc := "install " + uf.Name
		if ok {
			desc = "update " + uf.Name
		}
		hp.Actions = append(hp.Actions, Action{Host: d.Host, Kind: KindUnit, Path: uf.Name, Unit: uf.Name,
			Desc: desc, Detail: UnitDiff(uf.Name, old, uf.Content)})
	}
}

func planReload(hp *HostPlan, d Desired, a Actual) {
	stale := false
	for _, st := range a.Units {
		stale = stale || st.NeedReload
	}
	if len(hp.UnitFiles) > 0 || len(hp.Pins) > 0 || stale {
		hp.Reload = true
		desc := "systemctl daemon-reload"
		if stale && len(hp.UnitFiles) == 0 && len(hp.Pins) == 0 {
			desc += " (systemd has not loaded the unit files on disk)"
		}
		hp.Actions = append(hp.Actions, Action{Host: d.Host, Kind: KindReload, Desc: desc})
	}
}

func planEnable(hp *HostPlan, d Desired, a Actual) {
	names := []string{d.Target}
	for _, u := range d.Units {
		names = append(names, u.Names...)
	}
	for _, n := range names {
		if !a.Units[n].Enabled {
			hp.Enable = append(hp.Enable, n)
		}
	}
	if len(hp.Enable) > 0 {
		hp.Actions = append(hp.Actions, Action{Host: d.Host, Kind: KindEnable,
			Desc: "enable " + strings.Join(hp.Enable, " ")})
	}
}

func (hp *HostPlan) appendStartActions() {
	for _, s := range hp.Starts {
		kind := KindStart
		verb := "start"
		switch {
		case s.Task:
			kind, verb = KindRun, "run"
		case s.Restart:
			kind, verb = KindRestart, "restart"
		}
		hp.Actions = append(hp.Actions, Action{Host: hp.Host, Kind: kind, Unit: s.Name, Wave: s.Wave,
			Desc: fmt.Sprintf("%s %s (%s)", verb, s.Name, s.Reason)})
	}
}
