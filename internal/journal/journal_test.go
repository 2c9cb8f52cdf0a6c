package journal

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// A line as journalctl 252 prints it (fields trimmed).
const sample = `{"__CURSOR":"s=1;i=2a","__REALTIME_TIMESTAMP":"1764617400123456","_PID":"812","PRIORITY":"6","SYSLOG_IDENTIFIER":"openim-api","_SYSTEMD_UNIT":"api@0.service","MESSAGE":"listening on :10002"}`

// TestParse pins the decoding of each encoding journald exports a value in.
func TestParse(t *testing.T) {
	e, err := Parse([]byte(sample))
	require.NoError(t, err)
	require.Equal(t, Entry{
		Realtime:   time.UnixMicro(1764617400123456).UTC(),
		Cursor:     "s=1;i=2a",
		Unit:       "api@0.service",
		Identifier: "openim-api",
		PID:        812,
		Priority:   6,
		Message:    "listening on :10002",
	}, e)

	pid1, err := Parse([]byte(`{"__REALTIME_TIMESTAMP":"1","_SYSTEMD_UNIT":"init.scope","UNIT":"api@0.service","MESSAGE":"Started api@0.service"}`))
	require.NoError(t, err)
	require.Equal(t, "api@0", pid1.Source(), "systemd's lines about a unit are the unit's")

	for _, tc := range []struct{ name, line, msg string }{
		{"bytes", `{"__REALTIME_TIMESTAMP":"1","MESSAGE":[104,105,255]}`, "hi\uFFFD"},
		{"repeated field", `{"__REALTIME_TIMESTAMP":"1","MESSAGE":["first","second"]}`, "first"},
		{"repeated binary", `{"__REALTIME_TIMESTAMP":"1","MESSAGE":[[111,107],"x"]}`, "ok"},
		{"null (too large)", `{"__REALTIME_TIMESTAMP":"1","MESSAGE":null}`, ""},
		{"absent", `{"__REALTIME_TIMESTAMP":"1"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Parse([]byte(tc.line))
			require.NoError(t, err)
			require.Equal(t, tc.msg, e.Message)
			require.Equal(t, 6, e.Priority)
		})
	}
	for _, bad := range []string{"", "-- No entries --", `{"MESSAGE":"x"}`, `{"__REALTIME_TIMESTAMP":"soon"}`, `{"__REALTIME_TIMESTAMP":"-5"}`, `[1]`} {
		_, err := Parse([]byte(bad))
		require.ErrorIs(t, err, ErrNotJSON, bad)
	}
}

func at(host string, us int64, msg string) Entry {
	return Entry{Host: host, Realtime: time.UnixMicro(us).UTC(), Unit: "api@0.service", Message: msg}
}

// TestMerge pins time order across hosts, with ties broken by host order
// then by order within a host, so output never depends on who answered first.
func TestMerge(t *testing.T) {
	got := Merge([][]Entry{
		{at("lab-1", 10, "a1"), at("lab-1", 30, "a2"), at("lab-1", 30, "a3")},
		{at("lab-2", 5, "b1"), at("lab-2", 30, "b2"), at("lab-2", 40, "b3")},
		nil,
	})
	var msgs []string
	for _, e := range got {
		msgs = append(msgs, e.Message)
	}
	require.Equal(t, []string{"b1", "a1", "a2", "a3", "b2", "b3"}, msgs)
	require.Len(t, Tail(got, 2), 2)
	require.Equal(t, "b3", Tail(got, 2)[1].Message)
	require.Len(t, Tail(got, -1), 6)
	require.Len(t, Tail(got, 100), 6)
}

// TestScan pins that banners and torn lines are skipped, not fatal, and
// that the host is stamped on every entry.
func TestScan(t *testing.T) {
	in := "-- No entries --\n" + sample + "\n{\"__REALTIME_TIM"
	var got []Entry
	require.NoError(t, Scan(strings.NewReader(in), "lab-2", func(e Entry) bool { got = append(got, e); return true }))
	require.Len(t, got, 1)
	require.Equal(t, "lab-2", got[0].Host)

	n := 0
	two := sample + "\n" + sample + "\n"
	require.NoError(t, Scan(strings.NewReader(two), "h", func(Entry) bool { n++; return false }))
	require.Equal(t, 1, n, "Scan must stop when fn returns false")
}

func TestFormat(t *testing.T) {
	e := at("lab-1", 1764617400123456, "line one\nline two\n")
	require.Equal(t, "2025-12-01 19:30:00.123 lab-1 api@0: line one\n    line two", e.Format(time.UTC))
	e.Unit, e.Identifier = "", "sshd"
	require.Equal(t, "sshd", e.Source())
}

// FuzzParse checks that Parse never panics and that what it accepts has a
// valid UTF-8 message and a priority in range.
func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte(`{"__REALTIME_TIMESTAMP":"1","MESSAGE":[[1,2],[3]]}`))
	f.Add([]byte(`{"__REALTIME_TIMESTAMP":"9223372036854775807","PRIORITY":"9"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		e, err := Parse(line)
		if err != nil {
			return
		}
		require.True(t, utf8.ValidString(e.Message))
		require.True(t, e.Priority >= 0 && e.Priority <= 7)
		require.False(t, e.Realtime.Before(time.Unix(0, 0)))
		_ = e.Format(time.UTC)
	})
}

// TestFormat_RemoteTextIsInert pins that an entry's message and
// identifier, set by whatever runs on the host, reach the terminal with
// control sequences escaped and cannot start a line that reads as another
// host's entry.
func TestFormat_RemoteTextIsInert(t *testing.T) {
	e := Entry{Host: "lab-1", Realtime: time.Unix(0, 0).UTC(), Identifier: "x\n1970-01-01 00:00:00.000 lab-2 api@0",
		Message: "ok\x1b]52;c;ZXZpbA==\x07\r\n1970-01-01 00:00:00.000 lab-2 api@0: forged"}
	got := e.Format(time.UTC)
	want := "1970-01-01 00:00:00.000 lab-1 x\\x0a1970-01-01 00:00:00.000 lab-2 api@0: ok\\x1b]52;c;ZXZpbA==\\x07\\x0d\n" +
		"    1970-01-01 00:00:00.000 lab-2 api@0: forged"
	if got != want {
		t.Errorf("Format =\n%q\nwant\n%q", got, want)
	}
}
