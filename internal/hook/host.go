package hook

import (
	_ "embed"
	"strconv"
	"time"

	"github.com/openimsdk/openim-deploy/internal/target"
)

// hostScript frames a host hook's command with its variables (see the
// script's header).
//
//go:embed scripts/run.sh
var hostScript string

// Exit statuses of scripts/run.sh.
const (
	// HostTimedOut: coreutils timeout ended the command at its timeout.
	HostTimedOut = 124
	// HostBadArgs: the script's arguments were malformed (a bug here).
	HostBadArgs = 125
)

// HostCmd is the Target command that runs a host hook: argv with env
// exported, bounded by timeout on the host too. It runs as the login
// user (not through sudo): a hook that needs root says so in its argv.
// redact lists the secret values among env, hidden from messages and logs.
func HostCmd(argv, env []string, timeout time.Duration, redact []string) target.Cmd {
	secs := max(int(timeout.Round(time.Second)/time.Second), 1)
	args := []string{"sh", "-c", hostScript, "openim-deploy-hook", strconv.Itoa(secs), strconv.Itoa(len(env))}
	args = append(args, env...)
	return target.Cmd{Args: append(args, argv...), Redact: redact}
}
