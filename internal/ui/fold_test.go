package ui

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func sets(n int) *HostSets {
	var order []string
	for i := 1; i <= n; i++ {
		order = append(order, fmt.Sprintf("lab-%d", i))
	}
	return NewHostSets(order, []Group{{Name: "app", Hosts: order[:max(0, n-1)]}})
}

// TestCompactNames pins how host sets are named in folded lines.
func TestCompactNames(t *testing.T) {
	for in, want := range map[string]string{
		"lab-1":                        "lab-1",
		"lab-1 lab-2 lab-3":            "lab-1..3",
		"lab-1 lab-2 lab-3 lab-5 db-1": "lab-1..3,lab-5,db-1",
		"im-01 im-02":                  "im-01,im-02",
		"a b":                          "a,b",
		"x9 x10 y10 y11":               "x9..10,y10..11",
		"lab-2 lab-1":                  "lab-2,lab-1",
		"7 8":                          "7,8",
		"h-99999999999 h-100000000000": "h-99999999999,h-100000000000",
	} {
		require.Equal(t, want, CompactNames(strings.Fields(in)), in)
	}
	hs := sets(8)
	require.Equal(t, "all: 8 hosts", hs.Name(hs.Order))
	require.Equal(t, "app: 7 hosts", hs.Name(hs.Order[:7]))
	require.Equal(t, "lab-1..5", hs.Name([]string{"lab-3", "lab-1", "lab-2", "lab-5", "lab-4"}))
	require.Equal(t, "lab-1..3", sets(3).Name([]string{"lab-1", "lab-2", "lab-3"}), "small sets are named, not counted")
}

// TestFold pins folding: lines every host reports print once, at once;
// lines that differ wait for the next header and name their own hosts;
// warnings are never held back.
func TestFold(t *testing.T) {
	var out bytes.Buffer
	p := New(&out, Options{Fold: sets(3)})
	p.Phase("Install units")
	p.Host("lab-1", "installed api@.service")
	p.Host("lab-2", "installed api@.service")
	p.Host("lab-1", "release r1: 2 files sent")
	require.Equal(t, "==> Install units\n", out.String(), "incomplete lines wait")
	p.Host("lab-3", "installed api@.service")
	require.Contains(t, out.String(), "[lab-1..3] installed api@.service\n", "a complete line prints at once")
	p.HostWarn("lab-3", "slow disk")
	p.Host("lab-3", "release r1: 2 files sent")
	p.Host("lab-2", "release r1: 9 files sent")
	p.Phase("Start units")
	require.Equal(t, `==> Install units
[lab-1..3] installed api@.service
[lab-3] warning: slow disk
[lab-1,lab-3] release r1: 2 files sent
[lab-2] release r1: 9 files sent
==> Start units
`, out.String())

	out.Reset()
	p.Host("lab-1", "enabled x")
	p.Host("lab-1", "enabled x")
	p.Flush()
	require.Equal(t, "[lab-1] enabled x\n[lab-1] enabled x\n", out.String(), "one host twice is two lines")
}

// TestFold_Off pins that --no-fold (no HostSets) and JSON print every line.
func TestFold_Off(t *testing.T) {
	var out bytes.Buffer
	p := New(&out, Options{})
	p.Host("lab-1", "x")
	p.Host("lab-2", "x")
	require.Equal(t, "[lab-1] x\n[lab-2] x\n", out.String())

	out.Reset()
	p = New(&out, Options{JSON: true, Fold: sets(2)})
	p.Host("lab-1", "x")
	p.Host("lab-2", "x")
	require.Equal(t, 2, strings.Count(out.String(), `"type":"host"`))
}

// TestQuiet pins -q: only warnings, errors and recap events reach the
// terminal, while the debug log still gets everything.
func TestQuiet(t *testing.T) {
	var out, log bytes.Buffer
	p := New(&out, Options{Quiet: true, Fold: sets(2), Log: slog.New(slog.NewTextHandler(&log, nil))})
	p.Phase("Connect")
	p.Host("lab-1", "connected")
	p.Info("took 1s")
	p.HostError("lab-2", "refused")
	p.Event(Event{Type: "recap", Host: "lab-1"}, "lab-1 ok")
	require.Equal(t, "[lab-2] error: refused\nlab-1 ok\n", out.String())
	for _, s := range []string{"Connect", "connected", "took 1s", "refused"} {
		require.Contains(t, log.String(), s)
	}
}

// TestFold_PlanLines pins that per-host plan events fold like Host lines,
// multi-line details included, and that the summary flushes them first.
func TestFold_PlanLines(t *testing.T) {
	var out bytes.Buffer
	p := New(&out, Options{Fold: sets(2)})
	for _, h := range []string{"lab-1", "lab-2"} {
		p.Event(Event{Type: "plan", Host: h, Msg: "update api@.service"}, "["+h+"] ~ update api@.service\n      -a\n      +b")
	}
	p.Event(Event{Type: "plan", Host: "lab-2", Msg: "start cron@0.service"}, "[lab-2] + start cron@0.service")
	p.Event(Event{Type: "plan_summary"}, "Plan: 3 actions on 2 hosts, 0 bytes to send.")
	require.Equal(t, "[lab-1..2] ~ update api@.service\n      -a\n      +b\n[lab-2] + start cron@0.service\nPlan: 3 actions on 2 hosts, 0 bytes to send.\n", out.String())
}

// TestFoldManyHostsAndRepeats pins folding past the size where a line
// keeps its hosts as a set: a repeated report opens a second line, lines
// print once complete, and what is left comes out in order of first
// appearance.
func TestFoldManyHostsAndRepeats(t *testing.T) {
	var out bytes.Buffer
	hs := sets(20)
	p := New(&out, Options{Fold: hs})
	p.Phase("Gather state")
	for i, h := range hs.Order {
		p.Host(h, "first")
		if i == 0 {
			p.Host(h, "first") // twice: a second line of its own
			p.Host(h, "second")
		}
		if i < 19 {
			p.Host(h, "third")
		}
	}
	require.Equal(t, "==> Gather state\n[all: 20 hosts] first\n", out.String(), "only the complete line printed")
	p.Flush()
	require.Equal(t, `==> Gather state
[all: 20 hosts] first
[lab-1] first
[lab-1] second
[app: 19 hosts] third
`, out.String())
}
