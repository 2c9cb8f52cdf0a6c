// Package hook runs a playbook's hooks: commands run around every rolling
// batch, on the controller (Exec, behind the Runner seam so the rollout
// engine is tested without processes) or on each host of the batch
// (HostCmd, a Target command). It also defines the variables every hook
// gets, whose names are a contract with operators' scripts.
package hook

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Vars are what a hook learns about its batch, as OPENIM_DEPLOY_*
// environment variables. The names are part of the playbook contract.
type Vars struct {
	Hosts     []string // the batch's inventory host names
	Addresses []string // their addresses, same order
	Instances []string // "host/unit" pairs
	Service   string
	Release   string // the release being rolled to
	Batch     string // "2/6"
	Command   string // apply, restart, rollback
}

// Env renders v as NAME=value entries, in a fixed order.
func (v Vars) Env() []string {
	return []string{
		"OPENIM_DEPLOY_HOSTS=" + strings.Join(v.Hosts, " "),
		"OPENIM_DEPLOY_ADDRESSES=" + strings.Join(v.Addresses, " "),
		"OPENIM_DEPLOY_INSTANCES=" + strings.Join(v.Instances, " "),
		"OPENIM_DEPLOY_SERVICE=" + v.Service,
		"OPENIM_DEPLOY_RELEASE=" + v.Release,
		"OPENIM_DEPLOY_BATCH=" + v.Batch,
		"OPENIM_DEPLOY_COMMAND=" + v.Command,
	}
}

// Command is one run of a controller hook.
type Command struct {
	Argv []string
	// Env is the hook's own environment (Vars.Env plus the playbook's
	// environment and secret_environment), added to the few variables
	// inherited from openim-deploy's own environment (see Inherited).
	Env     []string
	Timeout time.Duration
}

// Runner runs a controller hook's command and returns what it printed
// (stdout and stderr as they interleaved). A non-zero exit is an
// *ExitError; running past the timeout an error wrapping ErrTimeout.
type Runner interface {
	Run(ctx context.Context, c Command) ([]byte, error)
}

// ErrTimeout: the hook ran past its timeout and was killed.
var ErrTimeout = errors.New("timed out")

// ExitError is a hook that exited non-zero.
type ExitError struct {
	Code int
}

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// inherited are the variables a controller hook takes from openim-deploy's
// own environment: what a program needs to run at all (find programs, a
// home, a locale, a temp dir). Nothing else is passed on, so a secret in
// the operator's shell (a cloud token, a password) never reaches a hook
// unless the playbook passes it explicitly.
var inherited = []string{"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR"}

// Inherited returns the entries of environ that a controller hook
// inherits, in environ's order; PATH gets a default when environ has none.
func Inherited(environ []string) []string {
	var out []string
	path := false
	for _, kv := range environ {
		k, _, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		for _, name := range inherited {
			if k == name {
				out = append(out, kv)
				path = path || k == "PATH"
			}
		}
	}
	if !path {
		out = append(out, "PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin")
	}
	return out
}
