package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/hcl/v2"

	"github.com/openimsdk/openim-deploy/internal/lock"
	"github.com/openimsdk/openim-deploy/internal/preflight"
	"github.com/openimsdk/openim-deploy/internal/release"
	"github.com/openimsdk/openim-deploy/internal/target"
)

// Exit codes. Plan codes follow Terraform's -detailed-exitcode (0 no
// changes, 1 error, 2 changes); the others are distinct so scripts and CI can
// tell a typo in a config file from a host that is down.
const (
	ExitOK          = 0
	ExitError       = 1
	ExitChanges     = 2 // plan --detailed-exitcode: the plan has changes
	ExitConfig      = 3 // the inventory or playbook is invalid; nothing was contacted
	ExitLockHeld    = 4 // another run holds a host's lock
	ExitUnreachable = 5 // at least one host could not be reached; the others were handled
	ExitPreflight   = 6 // a host failed pre-flight, or a file the app did not write is in the way, and was refused
	ExitUnhealthy   = 7 // status: at least one instance is not healthy
	ExitInterrupted = 130
)

// ErrChanges is returned by plan with --detailed-exitcode when there is work to do.
var ErrChanges = errors.New("the plan has changes")

// ErrPreflight marks a run refused because hosts failed pre-flight checks.
var ErrPreflight = errors.New("pre-flight failed")

// configError wraps diagnostics that were already printed.
type configError struct{ diags hcl.Diagnostics }

func (e *configError) Error() string { return "configuration is invalid" }

// usageError is a command line the tool refuses before contacting any
// host (an empty --limit, an unknown instance, a negative count): exit 3,
// as for a configuration error.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitCode maps an error to the process exit code. It is the only place
// that does so.
func exitCode(err error) int {
	var cfgErr *configError
	var usage *usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, ErrChanges):
		return ExitChanges
	case errors.As(err, &cfgErr), errors.As(err, &usage):
		return ExitConfig
	case errors.Is(err, context.Canceled):
		return ExitInterrupted
	case errors.Is(err, lock.ErrHeld):
		return ExitLockHeld
	case errors.Is(err, ErrUnhealthy):
		return ExitUnhealthy
	case errors.Is(err, ErrPreflight), errors.Is(err, preflight.ErrRefused), errors.Is(err, release.ErrForeignFile):
		return ExitPreflight
	case errors.Is(err, target.ErrUnreachable):
		return ExitUnreachable
	default:
		return ExitError
	}
}
