package ui

import (
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/openimsdk/openim-deploy/internal/clock"
)

// redrawEvery bounds how often the status line is redrawn: often enough to
// look alive, rarely enough that a slow terminal or SSH session to the
// controller is not flooded (a 1 GB upload reads in 32 KiB chunks).
const redrawEvery = 200 * time.Millisecond

// defaultWidth is the status line's width when the terminal's is unknown.
const defaultWidth = 80

// liveLine is the one status line a terminal shows under the normal output
// while long steps run ("uploading: 41.2/124.0 MiB, ..."). The Printer owns
// it: every normal line first clears it, is written, and then redraws it,
// so the two never share a line. It is never written to a file, a pipe,
// the debug log or JSON.
type liveLine struct {
	clk   clock.Clock
	width int
	acts  []*activity // in start order
	drawn bool        // a status line is on the screen now
	stop  chan struct{}
	gates *gateSet // the health gates being waited on; nil when none
}

// activity is one long step shown on the status line while it lasts.
type activity struct {
	render func(now time.Time) string
}

// Live reports whether the printer draws a status line: stdout is a
// terminal, and neither --output json nor -q is in effect.
func (p *Printer) Live() bool { return p.live != nil }

// startActivity adds render to the status line until the returned func is
// called. The line is first drawn one redraw interval later, so a step that
// ends sooner never flashes on the screen.
func (p *Printer) startActivity(render func(time.Time) string) (end func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.startActivityLocked(render)
	return func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.endActivityLocked(a)
	}
}

func (p *Printer) startActivityLocked(render func(time.Time) string) *activity {
	l := p.live
	a := &activity{render: render}
	l.acts = append(l.acts, a)
	if l.stop == nil {
		l.stop = make(chan struct{})
		go p.redrawLoop(l.stop)
	}
	return a
}

// endActivityLocked removes a; with the last one gone the line is cleared
// and the redraw loop ends.
func (p *Printer) endActivityLocked(a *activity) {
	l := p.live
	for i, x := range l.acts {
		if x == a {
			l.acts = append(l.acts[:i], l.acts[i+1:]...)
			break
		}
	}
	if len(l.acts) == 0 && l.stop != nil {
		close(l.stop)
		l.stop = nil
		p.clearStatusLocked()
	}
}

// redrawLoop redraws the status line every redrawEvery until stop is
// closed; one runs while any activity lasts.
func (p *Printer) redrawLoop(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-p.live.clk.After(redrawEvery):
		}
		p.mu.Lock()
		select {
		case <-stop:
			p.mu.Unlock()
			return
		default:
		}
		p.drawStatusLocked()
		p.mu.Unlock()
	}
}

// drawStatusLocked writes the status line over the current one.
func (p *Printer) drawStatusLocked() {
	l := p.live
	if len(l.acts) == 0 {
		return
	}
	now := l.clk.Now()
	parts := make([]string, 0, len(l.acts))
	for _, a := range l.acts {
		if s := a.render(now); s != "" {
			parts = append(parts, s)
		}
	}
	text := fitWidth(p.redact(strings.Join(parts, "; ")), l.width)
	_, _ = io.WriteString(p.out, "\r"+text+"\x1b[K")
	l.drawn = true
}

// clearStatusLocked removes the status line from the screen, leaving the
// cursor at the start of the empty line.
func (p *Printer) clearStatusLocked() {
	if p.live == nil || !p.live.drawn {
		return
	}
	_, _ = io.WriteString(p.out, "\r\x1b[K")
	p.live.drawn = false
}

// fitWidth cuts s to one terminal line: a line that wraps could no longer
// be erased by "\r" and would leave its head behind on every redraw. The
// last column stays free, since writing it makes some terminals wrap.
func fitWidth(s string, width int) string {
	if width <= 1 {
		width = defaultWidth
	}
	limit := width - 1
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	r := []rune(s)
	return string(r[:limit-1]) + "…"
}
