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
//
// Lines are found by message and hosts by set, so a report costs the same
// however many lines are pending and hosts have reported: scanning both
// made a phase in which each of 500 hosts prints lines of its own cost
// O(lines^2) (0.1 s at 500 hosts with 14 lines each, 1.7 s at 2000).
type folder struct {
	sets    *HostSets
	expect  int         // hosts in the run: a line reported by this many is complete
	pending []*foldLine // order of first appearance; nil where a line was printed
	open    map[string][]*foldLine
	gone    int // nil entries in pending
}

type foldLine struct {
	msg   string
	hosts []string
	has   map[string]bool // the hosts as a set, once there are many
}

// manyHosts is the count from which a line keeps its hosts in a set too:
// below it a scan is cheaper than a map per line.
const manyHosts = 16

func (l *foldLine) reported(host string) bool {
	if l.has != nil {
		return l.has[host]
	}
	return slices.Contains(l.hosts, host)
}

func (l *foldLine) addHost(host string) {
	l.hosts = append(l.hosts, host)
	switch {
	case l.has != nil:
		l.has[host] = true
	case len(l.hosts) >= manyHosts:
		l.has = make(map[string]bool, 2*len(l.hosts))
		for _, h := range l.hosts {
			l.has[h] = true
		}
	}
}

// add records that host printed msg. It returns the folded line when msg
// is now complete.
func (f *folder) add(host, msg string) (string, bool) {
	lines := f.open[msg]
	for i, l := range lines {
		if l.reported(host) {
			continue // a host saying the same twice gets two lines
		}
		l.addHost(host)
		if len(l.hosts) < f.expect {
			return "", false
		}
		f.open[msg] = slices.Delete(lines, i, i+1)
		if len(f.open[msg]) == 0 {
			delete(f.open, msg)
		}
		f.retire(l)
		return f.render(l), true
	}
	l := &foldLine{msg: msg, hosts: []string{host}}
	if f.expect <= 1 {
		return f.render(l), true
	}
	if f.open == nil {
		f.open = map[string][]*foldLine{}
	}
	f.open[msg] = append(lines, l)
	f.pending = append(f.pending, l)
	return "", false
}

// retire drops a printed line from pending, compacting it once half of it
// is gone so it never grows beyond twice the lines still waiting.
func (f *folder) retire(l *foldLine) {
	if i := slices.Index(f.pending, l); i == len(f.pending)-1 {
		f.pending = f.pending[:i]
	} else if i >= 0 {
		f.pending[i] = nil
		f.gone++
	}
	if f.gone > len(f.pending)/2 {
		f.pending = slices.DeleteFunc(f.pending, func(l *foldLine) bool { return l == nil })
		f.gone = 0
	}
}

// drain returns every pending line, folded, in order of first appearance.
func (f *folder) drain() []string {
	var out []string
	for _, l := range f.pending {
		if l != nil {
			out = append(out, f.render(l))
		}
	}
	f.pending, f.open, f.gone = nil, nil, 0
	return out
}

func (f *folder) render(l *foldLine) string {
	return hostLines("["+f.sets.Name(l.hosts)+"] ", l.msg)
}
