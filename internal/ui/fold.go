package ui

import "slices"

// folder holds the per-host lines of the current phase and folds identical
// ones into one line naming the host set, as ClusterShell's clubak does: a
// 100-host apply prints one "installed api@.service" line, not 100.
//
// A line is printed as soon as every host of the run has reported it, so a
// fleet that behaves alike still shows progress live; lines some hosts
// never report (they differ, or failed) wait until the phase's next header,
// plain line or Flush, and then come out in order of first appearance,
// each naming its own host set.
type folder struct {
	sets    *HostSets
	expect  int // hosts in the run: a line reported by this many is complete
	pending []foldLine
}

type foldLine struct {
	msg   string
	hosts []string
}

// add records that host printed msg. It returns the folded line when msg
// is now complete.
func (f *folder) add(host, msg string) (string, bool) {
	for i := range f.pending {
		l := &f.pending[i]
		if l.msg != msg || slices.Contains(l.hosts, host) {
			continue // a host saying the same twice gets two lines
		}
		l.hosts = append(l.hosts, host)
		if len(l.hosts) < f.expect {
			return "", false
		}
		line := f.render(*l)
		f.pending = append(f.pending[:i], f.pending[i+1:]...)
		return line, true
	}
	l := foldLine{msg: msg, hosts: []string{host}}
	if f.expect <= 1 {
		return f.render(l), true
	}
	f.pending = append(f.pending, l)
	return "", false
}

// drain returns every pending line, folded, in order of first appearance.
func (f *folder) drain() []string {
	out := make([]string, len(f.pending))
	for i, l := range f.pending {
		out[i] = f.render(l)
	}
	f.pending = nil
	return out
}

func (f *folder) render(l foldLine) string {
	return "[" + f.sets.Name(l.hosts) + "] " + l.msg
}
