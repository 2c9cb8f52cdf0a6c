package cli

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// keepDebugLogs is how many run logs are kept: enough to look back over a
// day of work, few enough that the directory never needs cleaning by hand.
const keepDebugLogs = 20

// debugLog is the per-run log under $XDG_STATE_HOME/openim-deploy/: every
// line printed, every remote command (secrets redacted) and the outcome, so
// a failure can be investigated after the terminal scrolled away.
type debugLog struct {
	Path   string
	file   *os.File
	Logger *slog.Logger
}

// stateDir is $XDG_STATE_HOME/openim-deploy, or ~/.local/state/openim-deploy
// as the XDG base directory spec defaults it.
func stateDir(environ []string) (string, error) {
	if d := lookupEnv(environ, "XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "openim-deploy"), nil
	}
	home := lookupEnv(environ, "HOME")
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return "", err
		}
	}
	return filepath.Join(home, ".local", "state", "openim-deploy"), nil
}

func discardLog() *debugLog {
	return &debugLog{Logger: slog.New(slog.DiscardHandler)}
}

// openDebugLog creates this run's log and removes the oldest beyond
// keepDebugLogs. The log is a convenience: when it cannot be created the
// run goes on with a logger that discards.
func openDebugLog(environ []string, args []string, now time.Time) *debugLog {
	discard := discardLog()
	dir, err := stateDir(environ)
	if err != nil || os.MkdirAll(dir, 0o700) != nil {
		return discard
	}
	name := fmt.Sprintf("run-%s-%d.log", now.UTC().Format("20060102T150405.000Z"), os.Getpid())
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		return discard
	}
	rotateDebugLogs(dir, keepDebugLogs)
	l := &debugLog{Path: f.Name(), file: f,
		Logger: slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	l.Logger.Info("start", "args", strings.Join(args, " "))
	return l
}

// rotateDebugLogs keeps the newest keep run logs in dir. Names sort by time.
func rotateDebugLogs(dir string, keep int) {
	matches, _ := filepath.Glob(filepath.Join(dir, "run-*.log"))
	slices.Sort(matches)
	for len(matches) > keep {
		_ = os.Remove(matches[0])
		matches = matches[1:]
	}
}

// Close ends the log with the exit code.
func (l *debugLog) Close(code int) {
	if l.file == nil {
		return
	}
	l.Logger.Info("exit", "code", code)
	_ = l.file.Close()
}
