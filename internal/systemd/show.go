package systemd

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/openimsdk/openim-deploy/internal/target"
)

// ShowProperties are the properties Show asks for, in the order given to
// "systemctl show -p".
const ShowProperties = "Id,LoadState,ActiveState,SubState,Result,NRestarts,MainPID," +
	"ExecMainStartTimestampMonotonic,ExecMainStartTimestamp,ExecMainStatus," +
	"NeedDaemonReload,UnitFileState"

// UnitState is what "systemctl show" says about one unit. Missing
// properties (older systemd omits empty ones) are zero values.
type UnitState struct {
	ID          string // Id: "openim-api@0.service"
	LoadState   string // loaded, not-found, bad-setting, masked, ...
	ActiveState string // active, activating, deactivating, inactive, failed, reloading
	SubState    string // running, exited, dead, auto-restart, ...
	Result      string // success, exit-code, signal, start-limit-hit, ...
	NRestarts   int    // automatic restarts since the unit was last started by hand
	MainPID     int    // 0 when no main process runs
	// ExecMainStart is CLOCK_MONOTONIC at the main process's start. Unlike
	// the wall-clock timestamp it is exact and unaffected by clock changes,
	// so comparing it before and after a run proves whether a unit restarted.
	ExecMainStart time.Duration
	// ExecMainStartTimestamp is systemd's wall-clock rendering, kept as
	// text for display ("Mon 2025-01-06 12:01:03 UTC"); it is locale and
	// time zone dependent, so it is not parsed.
	ExecMainStartTimestamp string
	ExecMainStatus         int  // exit status of the last main process
	NeedDaemonReload       bool // the unit file changed on disk since the last daemon-reload
	UnitFileState          string
}

// Active reports ActiveState=active.
func (s UnitState) Active() bool { return s.ActiveState == "active" }

// Loaded reports LoadState=loaded. A unit that is not loaded (not-found,
// bad-setting, masked) cannot become healthy by waiting.
func (s UnitState) Loaded() bool { return s.LoadState == "loaded" }

// StartLimitHit reports Result=start-limit-hit: systemd gave up restarting
// the unit and will refuse to start it until "systemctl reset-failed".
func (s UnitState) StartLimitHit() bool { return s.Result == "start-limit-hit" }

// Enabled reports whether the unit file state is one that starts the unit
// at boot (enabled, enabled-runtime, alias, static units are not).
func (s UnitState) Enabled() bool {
	return s.UnitFileState == "enabled" || s.UnitFileState == "enabled-runtime"
}

// Summary is a one-line description for messages:
// "ActiveState=activating auto-restart, Result=exit-code, ExecMainStatus=1, NRestarts=3".
func (s UnitState) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ActiveState=%s", orDash(s.ActiveState))
	if s.SubState != "" {
		b.WriteString(" " + s.SubState)
	}
	if !s.Loaded() {
		fmt.Fprintf(&b, ", LoadState=%s", orDash(s.LoadState))
	}
	if s.Result != "" && s.Result != "success" {
		fmt.Fprintf(&b, ", Result=%s, ExecMainStatus=%d", s.Result, s.ExecMainStatus)
	}
	fmt.Fprintf(&b, ", NRestarts=%d", s.NRestarts)
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Show returns the state of units, in the order given, from one
// "systemctl show -p <ShowProperties> -- units..." call: one round trip
// however many instances a host runs. Unknown units come back with
// LoadState=not-found rather than an error.
func Show(ctx context.Context, t target.Target, units ...string) ([]UnitState, error) {
	if len(units) == 0 {
		return nil, nil
	}
	args := append([]string{"systemctl", "show", "-p", ShowProperties, "--"}, units...)
	res, err := t.Run(ctx, observe(args...))
	if err != nil {
		return nil, err
	}
	states, err := ParseShow(res.Stdout)
	if err != nil {
		return nil, fmt.Errorf("systemctl show: %w", err)
	}
	if len(states) != len(units) {
		return nil, fmt.Errorf("systemctl show: asked about %d units, got %d records", len(units), len(states))
	}
	for i := range states {
		// systemd prints one record per argument, in argument order. Id may
		// differ from the argument (a missing ".service" suffix, an alias),
		// so order is what ties a record to its unit.
		if states[i].ID == "" {
			states[i].ID = units[i]
		}
	}
	return states, nil
}

// ParseShow parses the output of "systemctl show -p ... unit...": records
// of Key=Value lines separated by blank lines. Unknown keys are ignored so
// newer systemd versions do not break it; malformed lines and numbers are
// errors, because they mean the output is not what we asked for (a sudo
// prompt or a banner, for instance).
func ParseShow(out []byte) ([]UnitState, error) {
	var (
		states []UnitState
		cur    UnitState
		inRec  bool
	)
	// One conversion for the whole output, then substrings of it: a fleet's
	// gather parses a record per unit per host, and a string per line was
	// most of that work.
	text := string(out)
	for n := 0; text != ""; n++ {
		var line string
		line, text, _ = strings.Cut(text, "\n")
		line = strings.TrimSuffix(line, "\r")
		if len(strings.TrimSpace(line)) == 0 {
			if inRec {
				states = append(states, cur)
				cur, inRec = UnitState{}, false
			}
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("line %d: %q is not Key=Value", n+1, truncate(line))
		}
		if err := cur.set(key, value); err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		inRec = true
	}
	if inRec {
		states = append(states, cur)
	}
	return states, nil
}

func (s *UnitState) set(key, value string) error {
	var err error
	switch key {
	case "Id":
		s.ID = value
	case "LoadState":
		s.LoadState = value
	case "ActiveState":
		s.ActiveState = value
	case "SubState":
		s.SubState = value
	case "Result":
		s.Result = value
	case "UnitFileState":
		s.UnitFileState = value
	case "ExecMainStartTimestamp":
		s.ExecMainStartTimestamp = value
	case "NRestarts":
		s.NRestarts, err = atoi(value)
	case "MainPID":
		s.MainPID, err = atoi(value)
	case "ExecMainStatus":
		s.ExecMainStatus, err = atoi(value)
	case "ExecMainStartTimestampMonotonic":
		var us uint64
		if us, err = strconv.ParseUint(value, 10, 63); err == nil {
			s.ExecMainStart = time.Duration(us) * time.Microsecond
		}
	case "NeedDaemonReload":
		s.NeedDaemonReload, err = parseBool(value)
	}
	if err != nil {
		return fmt.Errorf("%s=%q: %w", key, truncate(value), err)
	}
	return nil
}

// atoi parses a systemd integer property; empty means unset.
func atoi(v string) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 32)
	return int(n), err
}

// parseBool accepts systemd's spellings ("yes"/"no").
func parseBool(v string) (bool, error) {
	switch v {
	case "yes", "true", "1", "on":
		return true, nil
	case "no", "false", "0", "off", "":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean")
}

func truncate(s string) string {
	const max = 80
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
