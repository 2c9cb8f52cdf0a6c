package phase

import (
	"testing"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/preflight"
	"github.com/openimsdk/openim-deploy/internal/ui"
)

// TestReportProblemsStrict pins the wiring of --strict: a warning leaves
// the host usable, and refuses it when the run is strict; an error always
// refuses.
func TestReportProblemsStrict(t *testing.T) {
	warn := []preflight.Problem{{Host: "a", Check: preflight.CheckMachineID, Severity: preflight.SeverityWarning, Message: "shared"}}
	refuse := []preflight.Problem{{Host: "a", Check: preflight.CheckInit, Severity: preflight.SeverityError, Message: "sysvinit"}}
	for _, tc := range []struct {
		name   string
		strict bool
		ps     []preflight.Problem
		want   Outcome
	}{
		{"warning", false, warn, OutcomeOK},
		{"warning strict", true, warn, OutcomeFailed},
		{"error", false, refuse, OutcomeFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Run{Out: ui.Discard(), Opts: Options{Strict: tc.strict}}
			h := &Host{Config: &config.Host{Name: "a"}}
			reportProblems(r, h, tc.ps)
			if o, err, _ := h.Result(); o != tc.want {
				t.Errorf("outcome %s (%v), want %s", o, err, tc.want)
			}
		})
	}
}
