package target

import (
	_ "embed"
	"errors"
)

// StreamScript is the POSIX sh wrapper a remote Stream runs its command
// under: "sh -c StreamScript sh ARGV...". It runs ARGV in the background and
// kills it (SIGTERM) as soon as the script's stdin reaches end of file,
// then exits with ARGV's status: closing its stdin is the one thing every
// sshd does when a session ends (see scripts/stream.sh for why).
//
//go:embed scripts/stream.sh
var StreamScript string

// StreamArgs returns the argument vector that runs args under StreamScript.
func StreamArgs(args []string) []string {
	return append([]string{"sh", "-c", StreamScript, "sh"}, args...)
}

// ErrStreamStdin is returned by Stream for a Cmd with Stdin set: a streamed
// command's stdin is reserved as its lifeline.
var ErrStreamStdin = errors.New("stream: a streamed command cannot take stdin")
