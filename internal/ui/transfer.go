package ui

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// rateWindow is how far back the transfer rate looks: long enough to
// smooth SFTP's bursts, short enough that a stall shows within seconds.
const rateWindow = 2 * time.Second

// Transfer shows, on the status line, bytes going out to many hosts at
// once: "uploading: 41.2/124.0 MiB, 38.5 MiB/s, 3/6 hosts done". A nil
// *Transfer (no terminal) does nothing, so callers need no checks.
type Transfer struct {
	label string
	total int64
	hosts int
	sent  atomic.Int64
	done  atomic.Int64
	// samples are (time, bytes sent) pairs of the last rateWindow; only
	// render touches them, under the Printer's lock.
	samples []sample
	end     func()
}

type sample struct {
	at   time.Time
	sent int64
}

// Transfer starts showing a transfer of total bytes to hosts hosts; call
// Done when it is over. It returns nil when the printer draws no status line.
func (p *Printer) Transfer(label string, total int64, hosts int) *Transfer {
	if p.live == nil {
		return nil
	}
	t := &Transfer{label: label, total: total, hosts: hosts}
	t.samples = []sample{{at: p.live.clk.Now()}}
	t.end = p.startActivity(t.render)
	return t
}

// Reader returns r counting what is read from it as sent. Data is counted
// as the upload reads it, which runs at most a buffer ahead of the network.
func (t *Transfer) Reader(r io.Reader) io.Reader {
	if t == nil {
		return r
	}
	return &countingReader{r: r, n: &t.sent}
}

// HostDone records that one host's part of the transfer ended.
func (t *Transfer) HostDone() {
	if t != nil {
		t.done.Add(1)
	}
}

// Done removes the transfer from the status line.
func (t *Transfer) Done() {
	if t != nil {
		t.end()
	}
}

func (t *Transfer) render(now time.Time) string {
	sent := t.sent.Load()
	// A retried file is read twice; the line must not claim more than all.
	shown := min(sent, t.total)
	s := fmt.Sprintf("%s: %s/%s", t.label, bytesIn(shown, t.total), Bytes(t.total))
	if rate, ok := t.rate(now, sent); ok {
		s += fmt.Sprintf(", %s/s", Bytes(int64(rate)))
	}
	return s + fmt.Sprintf(", %d/%d hosts done", t.done.Load(), t.hosts)
}

// rate is the bytes per second over the last rateWindow.
func (t *Transfer) rate(now time.Time, sent int64) (float64, bool) {
	t.samples = append(t.samples, sample{at: now, sent: sent})
	// Keep the newest sample older than the window as the base, so the
	// window is always covered.
	for len(t.samples) > 2 && now.Sub(t.samples[1].at) >= rateWindow {
		t.samples = t.samples[1:]
	}
	base := t.samples[0]
	dt := now.Sub(base.at)
	if dt <= 0 {
		return 0, false
	}
	return float64(sent-base.sent) / dt.Seconds(), true
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// Bytes formats a size in binary units as the plan does: "512 B",
// "40.0 KiB", "17.1 MiB", "1.2 GiB".
func Bytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
}

// bytesIn formats n in the unit Bytes picks for total, without the unit,
// so "41.2/124.0 MiB" reads as one quantity.
func bytesIn(n, total int64) string {
	switch {
	case total >= 1<<30:
		return fmt.Sprintf("%.1f", float64(n)/(1<<30))
	case total >= 1<<20:
		return fmt.Sprintf("%.1f", float64(n)/(1<<20))
	case total >= 1<<10:
		return fmt.Sprintf("%.1f", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d", n)
	}
}
