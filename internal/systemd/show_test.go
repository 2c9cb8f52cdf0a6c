package systemd

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestParseShow pins how "systemctl show" records map to UnitState: blank
// lines separate units, unknown and missing keys are tolerated, and garbage
// (a sudo prompt, a bad number) is an error rather than a zero state.
func TestParseShow(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []UnitState
		wantErr string
	}{
		{name: "empty", in: "", want: nil},
		{
			name: "one running unit",
			in: "Id=openim-api@0.service\nLoadState=loaded\nActiveState=active\nSubState=running\n" +
				"Result=success\nNRestarts=0\nMainPID=4242\nExecMainStartTimestampMonotonic=123456789\n" +
				"ExecMainStartTimestamp=Mon 2025-01-06 12:01:03 UTC\nExecMainStatus=0\n" +
				"NeedDaemonReload=no\nUnitFileState=enabled\n",
			want: []UnitState{{
				ID: "openim-api@0.service", LoadState: "loaded", ActiveState: "active", SubState: "running",
				Result: "success", MainPID: 4242, ExecMainStart: 123456789 * time.Microsecond,
				ExecMainStartTimestamp: "Mon 2025-01-06 12:01:03 UTC", UnitFileState: "enabled",
			}},
		},
		{
			name: "two records, crash loop and not found",
			in: "Id=openim-push@1.service\nActiveState=activating\nSubState=auto-restart\nResult=exit-code\n" +
				"NRestarts=3\nMainPID=0\nExecMainStatus=2\nNeedDaemonReload=yes\n\n" +
				"Id=nope.service\nLoadState=not-found\nActiveState=inactive\nSubState=dead\nNRestarts=\n\n",
			want: []UnitState{
				{ID: "openim-push@1.service", ActiveState: "activating", SubState: "auto-restart",
					Result: "exit-code", NRestarts: 3, ExecMainStatus: 2, NeedDaemonReload: true},
				{ID: "nope.service", LoadState: "not-found", ActiveState: "inactive", SubState: "dead"},
			},
		},
		{
			name: "start limit hit, CRLF, extra blank lines and unknown keys",
			in:   "\n\r\nId=a.service\r\nResult=start-limit-hit\r\nFutureKey=x=y\r\n\n\n",
			want: []UnitState{{ID: "a.service", Result: "start-limit-hit"}},
		},
		{name: "not key=value", in: "[sudo] password for ops:\n", wantErr: "line 1: \"[sudo] password for ops:\" is not Key=Value"},
		{name: "empty key", in: "=x\n", wantErr: "not Key=Value"},
		{name: "bad number", in: "Id=a\nNRestarts=many\n", wantErr: `line 2: NRestarts="many"`},
		{name: "bad bool", in: "NeedDaemonReload=maybe\n", wantErr: "not a boolean"},
		{name: "negative monotonic", in: "ExecMainStartTimestampMonotonic=-1\n", wantErr: "ExecMainStartTimestampMonotonic"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseShow([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseShow error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseShow (-want +got):\n%s", diff)
			}
		})
	}
}

// TestUnitStateHelpers pins the predicates the health gate relies on.
func TestUnitStateHelpers(t *testing.T) {
	s := UnitState{LoadState: "loaded", ActiveState: "active", SubState: "running", UnitFileState: "enabled"}
	if !s.Active() || !s.Loaded() || !s.Enabled() || s.StartLimitHit() {
		t.Errorf("predicates wrong for %+v", s)
	}
	f := UnitState{LoadState: "loaded", ActiveState: "failed", SubState: "failed", Result: "start-limit-hit", NRestarts: 5, ExecMainStatus: 1}
	if !f.StartLimitHit() || f.Active() {
		t.Errorf("predicates wrong for %+v", f)
	}
	want := "ActiveState=failed failed, Result=start-limit-hit, ExecMainStatus=1, NRestarts=5"
	if got := f.Summary(); got != want {
		t.Errorf("Summary() = %q, want %q", got, want)
	}
	if got := (UnitState{LoadState: "not-found"}).Summary(); got != "ActiveState=-, LoadState=not-found, NRestarts=0" {
		t.Errorf("Summary() = %q", got)
	}
}

// FuzzParseShow checks that ParseShow never panics, and that every record
// it returns came from a non-blank run of lines (so it cannot invent units).
func FuzzParseShow(f *testing.F) {
	f.Add([]byte("Id=a.service\nActiveState=active\nNRestarts=1\n\nId=b.service\n"))
	f.Add([]byte("ExecMainStartTimestampMonotonic=99999999999999999999\n"))
	f.Add([]byte("\r\n\r\n=\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		states, err := ParseShow(in)
		if err != nil {
			return
		}
		records := 0
		inRec := false
		for _, line := range strings.Split(string(in), "\n") {
			blank := strings.TrimSpace(strings.TrimSuffix(line, "\r")) == ""
			if !blank && !inRec {
				records++
			}
			inRec = !blank
		}
		if len(states) != records {
			t.Fatalf("ParseShow returned %d records for %d blocks in %q", len(states), records, in)
		}
	})
}
