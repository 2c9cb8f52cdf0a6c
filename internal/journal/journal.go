// Package journal reads journald's export as "journalctl -o json" prints
// it, one object per line, and merges the entries of many hosts into one
// stream in time order. It is pure: the commands that fetch the lines live
// in the CLI.
package journal

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/openimsdk/openim-deploy/internal/ui"
)

// Entry is one journal record, with the fields openim-deploy shows.
type Entry struct {
	// Host is the inventory name of the host it came from; Parse leaves it
	// empty and callers fill it in.
	Host string
	// Realtime is __REALTIME_TIMESTAMP: microseconds since the epoch, the
	// wall clock of the host when the entry was written. It is what entries
	// from different hosts are ordered by.
	Realtime time.Time
	// Cursor is __CURSOR, for resuming with --after-cursor.
	Cursor string
	// Unit is _SYSTEMD_UNIT ("api@0.service"), or UNIT for systemd's own
	// lines about a unit; "" for entries about no unit.
	Unit       string
	Identifier string // SYSLOG_IDENTIFIER
	PID        int    // _PID, 0 when absent
	Priority   int    // PRIORITY, 0 (emerg) .. 7 (debug); 6 when absent
	Message    string
}

// ErrNotJSON wraps every line that is not a journal JSON object.
var ErrNotJSON = errors.New("not a journal JSON object")

// Parse decodes one line of "journalctl -o json". A field's value may be a
// string, an array of bytes (journald's way of exporting a value that is not
// valid UTF-8), an array of such values (a field set more than once: the
// first is used), or null (a value too large to export).
func Parse(line []byte) (Entry, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(line, &raw); err != nil {
		return Entry{}, fmt.Errorf("%w: %v", ErrNotJSON, err)
	}
	e := Entry{Priority: 6}
	ts, ok := field(raw, "__REALTIME_TIMESTAMP")
	if !ok {
		return Entry{}, fmt.Errorf("%w: no __REALTIME_TIMESTAMP", ErrNotJSON)
	}
	us, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || us < 0 {
		return Entry{}, fmt.Errorf("%w: __REALTIME_TIMESTAMP %q", ErrNotJSON, ts)
	}
	e.Realtime = time.UnixMicro(us).UTC()
	e.Cursor, _ = field(raw, "__CURSOR")
	// systemd's own lines about a unit ("Started api@0.service") come
	// from PID 1 (_SYSTEMD_UNIT=init.scope) and name the unit in UNIT=;
	// journalctl -u shows them with the unit's own, and so do we.
	if u, ok := field(raw, "UNIT"); ok && u != "" {
		e.Unit = u
	} else {
		e.Unit, _ = field(raw, "_SYSTEMD_UNIT")
	}
	e.Identifier, _ = field(raw, "SYSLOG_IDENTIFIER")
	e.Message, _ = field(raw, "MESSAGE")
	if v, ok := field(raw, "_PID"); ok {
		e.PID, _ = strconv.Atoi(v)
	}
	if v, ok := field(raw, "PRIORITY"); ok {
		if p, err := strconv.Atoi(v); err == nil && p >= 0 && p <= 7 {
			e.Priority = p
		}
	}
	return e, nil
}

// field returns the text of one field, decoding journald's encodings.
func field(raw map[string]json.RawMessage, name string) (string, bool) {
	v, ok := raw[name]
	if !ok {
		return "", false
	}
	return decodeValue(v, 0)
}

func decodeValue(v json.RawMessage, depth int) (string, bool) {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s, true
	}
	var bytes []byte
	var nums []int
	if json.Unmarshal(v, &nums) == nil {
		for _, n := range nums {
			if n < 0 || n > 255 {
				return "", false
			}
			bytes = append(bytes, byte(n))
		}
		return strings.ToValidUTF8(string(bytes), string(utf8.RuneError)), true
	}
	var multi []json.RawMessage
	if depth == 0 && json.Unmarshal(v, &multi) == nil && len(multi) > 0 {
		return decodeValue(multi[0], depth+1)
	}
	return "", false
}

// maxLine bounds one exported entry. journald's default field limit is
// 64 KiB for a MESSAGE; binary fields exported as byte arrays take about
// four characters per byte, so 1 MiB leaves room.
const maxLine = 1 << 20

// Scan reads "journalctl -o json" output from r and calls fn for every
// entry, with Host set to host, until r ends or fn returns false. Lines that
// do not parse (a "-- No entries --" banner, a truncated last line) are
// skipped: one bad line must not end a follow.
func Scan(r io.Reader, host string, fn func(Entry) bool) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), maxLine)
	for sc.Scan() {
		e, err := Parse(sc.Bytes())
		if err != nil {
			continue
		}
		e.Host = host
		if !fn(e) {
			return nil
		}
	}
	return sc.Err()
}

// Merge orders the entries of many hosts into one list by Realtime.
// Entries with the same timestamp keep the order of perHost (inventory
// order), then their order within a host, so the result is deterministic.
func Merge(perHost [][]Entry) []Entry {
	var all []Entry
	for _, es := range perHost {
		all = append(all, es...)
	}
	slices.SortStableFunc(all, func(a, b Entry) int { return a.Realtime.Compare(b.Realtime) })
	return all
}

// Tail keeps the last n entries of a merged list (all of them when n < 0).
func Tail(es []Entry, n int) []Entry {
	if n < 0 || len(es) <= n {
		return es
	}
	return es[len(es)-n:]
}

// Source names where an entry came from: "api@0" for a unit's instance,
// the syslog identifier otherwise.
func (e Entry) Source() string {
	if e.Unit != "" {
		return strings.TrimSuffix(e.Unit, ".service")
	}
	return cmp.Or(e.Identifier, "-")
}

// Format renders e as one line: "2026-12-01 19:40:00.123 lab-1 api@0: text".
// Times are shown in loc (the operator's zone); a multi-line message keeps
// its lines, each continuation indented under the first, and control
// characters are escaped.
func (e Entry) Format(loc *time.Location) string {
	// Every field but the time comes from the host, and any process can
	// set its identifier: the source is kept to one line and the message
	// escaped (ui.EscapeLines), so neither can start a line that reads as
	// another host's entry nor send the terminal a control sequence.
	msg := ui.EscapeLines(strings.TrimRight(e.Message, "\n"))
	msg = strings.ReplaceAll(msg, "\n", "\n    ")
	return fmt.Sprintf("%s %s %s: %s", e.Realtime.In(loc).Format("2006-01-02 15:04:05.000"), e.Host, ui.EscapeLine(e.Source()), msg)
}
