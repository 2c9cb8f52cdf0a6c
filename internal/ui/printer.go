// Package ui is the one way openim-deploy talks to the user: phase headers,
// per-host lines, warnings and a recap, as plain text or as a stream of JSON
// events. Library packages never write to stdout or stderr themselves.
package ui

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/openimsdk/openim-deploy/internal/clock"
)

// Printer is safe for concurrent use: per-host lines from parallel workers
// may interleave, but each line is written whole.
type Printer struct {
	mu      sync.Mutex
	out     io.Writer
	json    bool
	verbose bool
	quiet   bool
	color   bool
	redact  func(string) string
	now     func() time.Time
	log     *slog.Logger
	fold    *folder   // nil: one line per host, as it comes
	live    *liveLine // nil: no status line (not a terminal, JSON or -q)
}

// Options configures a Printer.
type Options struct {
	JSON    bool
	Verbose bool
	// Quiet prints only warnings, errors and recap events.
	Quiet bool
	Color bool
	// Fold, when set, folds identical per-host lines of one phase into one
	// line naming the host set ("[lab-1..3] installed api@.service"). JSON
	// output is never folded.
	Fold *HostSets
	// Log, when set, receives every line printed (and those -q hides), for
	// the per-run debug log.
	Log *slog.Logger
	// Redact hides secrets in every message; nil means no redaction.
	Redact func(string) string
	// Terminal says out is a terminal: long steps then show a status line,
	// redrawn in place (upload progress, health gates waited on), unless
	// JSON or Quiet is set. Width is the terminal's width in columns (0:
	// 80); Clock paces the redraws (nil: the system clock).
	Terminal bool
	Width    int
	Clock    clock.Clock
}

// New returns a Printer writing to out.
func New(out io.Writer, opts Options) *Printer {
	r := opts.Redact
	if r == nil {
		r = func(s string) string { return s }
	}
	p := &Printer{out: out, json: opts.JSON, verbose: opts.Verbose, quiet: opts.Quiet, color: opts.Color,
		redact: r, now: time.Now, log: opts.Log}
	if opts.Fold != nil && !opts.JSON {
		p.fold = &folder{sets: opts.Fold, expect: len(opts.Fold.Order)}
	}
	if opts.Terminal && !opts.JSON && !opts.Quiet {
		clk := opts.Clock
		if clk == nil {
			clk = clock.System{}
		}
		p.live = &liveLine{clk: clk, width: opts.Width}
	}
	return p
}

// SetFold switches folding on for the hosts in sets (or off, with nil),
// flushing what is pending. Commands call it once they know the run's hosts.
func (p *Printer) SetFold(sets *HostSets) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.flushLocked()
	p.fold = nil
	if sets != nil && !p.json {
		p.fold = &folder{sets: sets, expect: len(sets.Order)}
	}
}

// Flush prints folded lines still waiting for more hosts. Every header,
// plain line and recap flushes first, so callers need Flush only at the end
// of output that has none.
func (p *Printer) Flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.flushLocked()
}

func (p *Printer) flushLocked() {
	if p.fold == nil {
		return
	}
	for _, l := range p.fold.drain() {
		p.writeLocked(l)
	}
}

// Quiet reports whether -q is in effect.
func (p *Printer) Quiet() bool { return p.quiet }

// IsVerbose reports whether -v is in effect.
func (p *Printer) IsVerbose() bool { return p.verbose }

// Discard returns a Printer that prints nothing, for tests and library callers.
func Discard() *Printer { return New(io.Discard, Options{}) }

// Event is one line of --output json.
type Event struct {
	Time   time.Time      `json:"time"`
	Type   string         `json:"type"` // phase, host, info, warn, error, recap, plan
	Host   string         `json:"host,omitempty"`
	Msg    string         `json:"msg,omitempty"`
	Fields map[string]any `json:"fields,omitempty"`
}

// JSON reports whether the printer emits JSON events.
func (p *Printer) JSON() bool { return p.json }

// emit prints an event that is not a per-host line. Folded lines pending
// from the same phase go out first, so reading order is kept.
func (p *Printer) emit(ev Event, text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.flushLocked()
	p.emitLocked(ev, text)
}

// emitHostLine prints (or, folding, holds) a per-host line.
func (p *Printer) emitHostLine(ev Event, msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.json || p.fold == nil {
		p.emitLocked(ev, hostLines("["+ev.Host+"] ", msg))
		return
	}
	if p.quiet && hidden(ev.Type) {
		p.logLocked(hostLines("["+ev.Host+"] ", msg))
		return
	}
	if line, done := p.fold.add(ev.Host, msg); done {
		p.writeLocked(line)
	}
}

// hidden reports event types -q suppresses.
func hidden(typ string) bool {
	switch typ {
	case "warn", "error", "recap", "block", "output", "log", "status", "plan", "plan_summary", "plan_hooks", "hook_failed", "hook_output":
		return false
	}
	return true
}

func (p *Printer) logLocked(text string) {
	if p.log != nil {
		p.log.Info(strings.TrimRight(p.redact(text), "\n"))
	}
}

func (p *Printer) writeLocked(text string) {
	text = p.redact(text)
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	p.logLocked(text)
	redraw := p.live != nil && p.live.drawn
	p.clearStatusLocked()
	_, _ = io.WriteString(p.out, text)
	if redraw {
		p.drawStatusLocked()
	}
}

func (p *Printer) emitLocked(ev Event, text string) {
	if p.quiet && hidden(ev.Type) && !p.json {
		p.logLocked(text)
		return
	}
	if p.json {
		ev.Time = p.now().UTC()
		// Redact before encoding: json.Marshal escapes '"', '\\', '<', '>'
		// and '&', so a secret holding any of them no longer matches
		// itself once encoded. The pass after encoding stays as a net.
		ev.Host = p.redact(ev.Host)
		ev.Msg = p.redact(ev.Msg)
		ev.Fields = RedactFields(ev.Fields, p.redact)
		b, _ := json.Marshal(ev)
		b = []byte(p.redact(string(b)))
		_, _ = p.out.Write(append(b, '\n'))
		return
	}
	p.writeLocked(text)
}

// emitNow prints a per-host warning, error or block at once, ahead of
// folded lines still pending: a failure should not wait for other hosts.
func (p *Printer) emitNow(ev Event, text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.emitLocked(ev, text)
}

// Phase prints a phase header: "==> Upload binaries".
func (p *Printer) Phase(title string) {
	p.emit(Event{Type: "phase", Msg: title}, p.paint("1", "==> "+EscapeLines(title)))
}

// PhaseDone prints how long a phase took when it took longer than ten seconds.
func (p *Printer) PhaseDone(title string, d time.Duration) {
	if d < 10*time.Second {
		return
	}
	p.emit(Event{Type: "phase_done", Msg: title, Fields: map[string]any{"seconds": d.Seconds()}},
		fmt.Sprintf("    %s took %s", title, d.Round(100*time.Millisecond)))
}

// Skipped prints why a phase did nothing.
func (p *Printer) Skipped(title, reason string) {
	p.emit(Event{Type: "skip", Msg: title, Fields: map[string]any{"reason": reason}},
		EscapeLines(fmt.Sprintf("==> %s (skipped: %s)", title, reason)))
}

// Host prints a per-host line: "[im-1] enable openim-api@0.service".
func (p *Printer) Host(host, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.emitHostLine(Event{Type: "host", Host: host, Msg: msg}, msg)
}

// HostWarn prints a per-host warning.
func (p *Printer) HostWarn(host, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.emitNow(Event{Type: "warn", Host: host, Msg: msg}, p.paint("33", hostLines("["+host+"] ", "warning: "+msg)))
}

// HostError prints a per-host failure.
func (p *Printer) HostError(host, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.emitNow(Event{Type: "error", Host: host, Msg: msg}, p.paint("31", hostLines("["+host+"] ", "error: "+msg)))
}

// Info prints a plain line.
func (p *Printer) Info(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.emit(Event{Type: "info", Msg: msg}, EscapeLines(msg))
}

// Verbose prints a line only with --verbose.
func (p *Printer) Verbose(format string, args ...any) {
	if p.verbose {
		p.Info(format, args...)
	}
}

// Warn prints a warning not tied to one host.
func (p *Printer) Warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.emit(Event{Type: "warn", Msg: msg}, p.paint("33", "warning: "+EscapeLines(msg)))
}

// Error prints an error not tied to one host.
func (p *Printer) Error(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.emit(Event{Type: "error", Msg: msg}, p.paint("31", "error: "+EscapeLines(msg)))
}

// Event emits a structured event; text is what a terminal shows, its
// lines escaped (EscapeLines) and, for a host's plan line, every line
// prefixed with the host. A plan
// line of one host ("[im-1] + start api@0.service") folds like Host lines,
// so a plan for 40 identical hosts reads as one.
func (p *Printer) Event(ev Event, text string) {
	if ev.Host != "" && ev.Type == "plan" {
		if msg, ok := strings.CutPrefix(text, "["+ev.Host+"] "); ok {
			p.emitHostLine(ev, msg)
			return
		}
	}
	if msg, ok := strings.CutPrefix(text, "["+ev.Host+"] "); ok && ev.Host != "" {
		p.emit(ev, hostLines("["+ev.Host+"] ", msg))
		return
	}
	p.emit(ev, EscapeLines(text))
}

// Output prints what hosts sent as a header line ("--- lab-1..2 (exit 0)")
// and the text under it, unindented, as a terminal would show it: each
// line escaped, and a line that would start like a header has its first
// "-" written \x2d, so no host's text can open a section that reads as
// another host's.
func (p *Printer) Output(ev Event, header, body string) {
	var b strings.Builder
	b.WriteString(EscapeLines(header))
	for _, line := range strings.Split(strings.TrimRight(body, "\n"), "\n") {
		line = EscapeLine(line)
		if strings.HasPrefix(line, OutputHeaderPrefix) {
			line = `\x2d` + line[1:]
		}
		b.WriteString("\n" + line)
	}
	p.emit(ev, b.String())
}

// OutputHeaderPrefix starts every header line of Output.
const OutputHeaderPrefix = "--- "

// Block prints a multi-line block (a diff, a journal excerpt) indented under a host.
func (p *Printer) Block(host, title, body string) {
	var b strings.Builder
	b.WriteString(hostLines("["+host+"] ", title) + "\n")
	for _, line := range strings.Split(strings.TrimRight(body, "\n"), "\n") {
		b.WriteString("    " + EscapeLine(line) + "\n")
	}
	p.emitNow(Event{Type: "block", Host: host, Msg: title, Fields: map[string]any{"body": body}}, b.String())
}

func (p *Printer) paint(code, s string) string {
	if !p.color {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// RedactFields returns fields with redact applied to every string inside
// them, map keys included, at any depth. Values that are not plain JSON
// (structs such as plan actions) are first turned into their JSON form, so
// the strings they hold are redacted as the encoder would print them.
func RedactFields(fields map[string]any, redact func(string) string) map[string]any {
	if len(fields) == 0 {
		return fields
	}
	out := make(map[string]any, len(fields))
	for k, v := range fields {
		out[redact(k)] = redactValue(v, redact)
	}
	return out
}

func redactValue(v any, redact func(string) string) any {
	switch v := v.(type) {
	case nil, bool, float64, int, int64:
		return v
	case string:
		return redact(v)
	case []string:
		out := make([]string, len(v))
		for i, s := range v {
			out[i] = redact(s)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = redactValue(e, redact)
		}
		return out
	case map[string]any:
		return RedactFields(v, redact)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return redact(fmt.Sprint(v))
	}
	var generic any
	if err := json.Unmarshal(b, &generic); err != nil {
		return redact(string(b))
	}
	return redactValue(generic, redact)
}
