package ui

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/clock/clocktest"
)

func newFakeClock() *clocktest.Manual {
	return clocktest.NewManual(time.Date(2026, 12, 1, 19, 30, 0, 0, time.UTC))
}

// terminal returns a printer on a fake terminal: a buffer flagged as a TTY.
func terminal(opts Options) (*Printer, *bytes.Buffer, *clocktest.Manual) {
	var out bytes.Buffer
	clk := newFakeClock()
	opts.Terminal, opts.Clock = true, clk
	if opts.Width == 0 {
		opts.Width = 120
	}
	return New(&out, opts), &out, clk
}

// An upload shows one status line with bytes, rate and hosts done, first
// drawn after one redraw interval, redrawn in place ("\r" ... erase to the
// end of the line), and cleared when the transfer ends.
func TestTransfer_StatusLineOnTerminal(t *testing.T) {
	p, out, clk := terminal(Options{})
	tr := p.Transfer("uploading", 100<<20, 2)
	<-clk.Parked
	require.Empty(t, out.String(), "nothing is drawn before the first interval: a short step never flashes")

	n, err := io.Copy(io.Discard, tr.Reader(bytes.NewReader(make([]byte, 10<<20))))
	require.NoError(t, err)
	require.EqualValues(t, 10<<20, n)
	clk.Step(redrawEvery)
	require.Equal(t, "\ruploading: 10.0/100.0 MiB, 50.0 MiB/s, 0/2 hosts done\x1b[K", out.String())

	out.Reset()
	tr.HostDone()
	clk.Step(redrawEvery)
	require.Equal(t, "\ruploading: 10.0/100.0 MiB, 25.0 MiB/s, 1/2 hosts done\x1b[K", out.String())

	out.Reset()
	tr.Done()
	require.Equal(t, "\r\x1b[K", out.String(), "the line is erased when the step ends")
}

// The rate looks back a bounded window: an upload that stalls shows 0 B/s
// within seconds, not a slowly decaying average.
func TestTransfer_RateFollowsAStall(t *testing.T) {
	p, out, clk := terminal(Options{})
	tr := p.Transfer("uploading", 4<<20, 1)
	defer tr.Done()
	<-clk.Parked
	_, _ = io.Copy(io.Discard, tr.Reader(bytes.NewReader(make([]byte, 2<<20))))
	clk.Step(redrawEvery)
	require.Contains(t, out.String(), "2.0/4.0 MiB, 10.0 MiB/s")
	for range int(rateWindow/redrawEvery) + 1 {
		out.Reset()
		clk.Step(redrawEvery)
	}
	require.Equal(t, "\ruploading: 2.0/4.0 MiB, 0 B/s, 0/1 hosts done\x1b[K", out.String())
}

// A normal line never shares the terminal line with the status line: the
// status is erased, the line written, then the status drawn again below it.
func TestLive_NormalLinesClearTheStatusFirst(t *testing.T) {
	p, out, clk := terminal(Options{})
	tr := p.Transfer("uploading", 1<<20, 3)
	defer tr.Done()
	<-clk.Parked
	clk.Step(redrawEvery)
	out.Reset()
	p.Host("lab-1", "release r1: 2 files sent")
	p.HostWarn("lab-2", "slow")
	require.Equal(t, "\r\x1b[K[lab-1] release r1: 2 files sent\n"+
		"\ruploading: 0.0/1.0 MiB, 0 B/s, 0/3 hosts done\x1b[K"+
		"\r\x1b[K[lab-2] warning: slow\n"+
		"\ruploading: 0.0/1.0 MiB, 0 B/s, 0/3 hosts done\x1b[K", out.String())
}

// Health gates share one line, grouped by service and by the hosts that
// wait for the same instances, with the time the oldest has waited.
func TestWaiting_GroupsGatesByServiceAndHostSet(t *testing.T) {
	p, out, clk := terminal(Options{Fold: NewHostSets([]string{"lab-1", "lab-2", "lab-3"}, nil)})
	var done []func()
	for _, h := range []string{"lab-3", "lab-1", "lab-2"} {
		for i := 7; i >= 0; i-- {
			done = append(done, p.Waiting(h, fmt.Sprintf("openim-push@%d.service", i)))
		}
	}
	api := p.Waiting("lab-1", "openim-api@0.service")
	<-clk.Parked
	clk.Step(redrawEvery)
	require.Equal(t, "\rwaiting for health: openim-push@0..7 on [lab-1..3], openim-api@0 on [lab-1] (0.2 s)\x1b[K", out.String())

	for range 20 {
		clk.Step(redrawEvery)
	}
	for _, d := range done[16:] { // lab-2's gates passed
		d()
	}
	done[0]() // lab-3's openim-push@7
	done[4]() // lab-3's openim-push@3
	out.Reset()
	clk.Step(redrawEvery)
	require.Equal(t, "\rwaiting for health: openim-push@0..2,4..6 on [lab-3], openim-push@0..7 on [lab-1], openim-api@0 on [lab-1] (4.4 s)\x1b[K", out.String())

	for _, d := range slices.Concat(done[1:4], done[5:16]) {
		d()
	}
	out.Reset()
	api()
	require.Equal(t, "\r\x1b[K", out.String(), "the last gate passing erases the line")

	// The next wave's gates count their own time.
	next := p.Waiting("lab-2", "openim-msg@0.service")
	defer next()
	<-clk.Parked
	out.Reset()
	clk.Step(redrawEvery)
	require.Equal(t, "\rwaiting for health: openim-msg@0 on [lab-2] (0.2 s)\x1b[K", out.String())
}

// Off a terminal, with --output json or with -q there is no status line
// at all: no redraw loop, no carriage return, and a Transfer that counts
// nothing hands the reader back unchanged.
func TestLive_NeverOffTerminalJSONOrQuiet(t *testing.T) {
	for name, opts := range map[string]Options{
		"pipe":  {},
		"json":  {Terminal: true, JSON: true},
		"quiet": {Terminal: true, Quiet: true},
	} {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			clk := newFakeClock()
			opts.Clock = clk
			p := New(&out, opts)
			require.False(t, p.Live())
			tr := p.Transfer("uploading", 10, 1)
			require.Nil(t, tr)
			r := strings.NewReader("data")
			require.Same(t, r, tr.Reader(r))
			tr.HostDone()
			tr.Done()
			p.Waiting("lab-1", "api@0.service")()
			p.Warn("done")
			require.Empty(t, clk.Parked, "no redraw loop runs")
			require.NotContains(t, out.String(), "\r")
			require.NotContains(t, out.String(), "\x1b[K")
		})
	}
}

// The debug log gets every normal line and never the status line.
func TestLive_StatusNeverReachesTheDebugLog(t *testing.T) {
	var log bytes.Buffer
	p, out, clk := terminal(Options{Log: slog.New(slog.NewTextHandler(&log, nil))})
	tr := p.Transfer("uploading", 1<<20, 1)
	<-clk.Parked
	clk.Step(redrawEvery)
	p.Host("lab-1", "sent")
	tr.Done()
	require.Contains(t, out.String(), "uploading:")
	require.Contains(t, log.String(), "[lab-1] sent")
	require.NotContains(t, log.String(), "uploading")
}

// A status line longer than the terminal is cut to one line, leaving the
// last column free: a line that wraps could not be erased by "\r".
func TestLive_StatusFitsTheTerminalWidth(t *testing.T) {
	p, out, clk := terminal(Options{Width: 40})
	defer p.Waiting("a-very-long-host-name-1", "a-very-long-service-name@0.service")()
	<-clk.Parked
	clk.Step(redrawEvery)
	line := strings.TrimSuffix(strings.TrimPrefix(out.String(), "\r"), "\x1b[K")
	require.Equal(t, 39, utf8.RuneCountInString(line), "%q", line)
	require.True(t, strings.HasSuffix(line, "…"))
}
