package config

import (
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
)

// Hook moments: when, around a rolling batch, a hook runs. The names are
// part of the playbook contract (operators' scripts depend on them).
const (
	// HookBeforeBatch runs before the batch's instances are stopped; a
	// failure fails the batch before anything in it restarts.
	HookBeforeBatch = "before_batch"
	// HookAfterBatch runs after the batch passed its health gate; a
	// failure fails the batch as a failed gate does.
	HookAfterBatch = "after_batch"
	// HookAfterRollback runs after an auto-rollback restored a batch.
	HookAfterRollback = "after_rollback"
)

// Where a hook runs.
const (
	// HookOnController runs the command once, on the machine running
	// openim-deploy.
	HookOnController = "controller"
	// HookOnHost runs the command on each host of the batch.
	HookOnHost = "host"
)

// DefaultHookTimeout bounds a hook without a timeout: long enough for a
// balancer to drain a few long requests, short enough that a hung hook
// does not hold a rollout for ever.
const DefaultHookTimeout = 60 * time.Second

// Hook is a command run around every rolling batch (of the services it
// names, or of all): to drain an instance from a load balancer before it
// restarts and to put it back after, for example.
type Hook struct {
	Name string
	// When is HookBeforeBatch, HookAfterBatch or HookAfterRollback.
	When string
	// Services limits the hook to batches of these services; empty: all.
	Services []string
	// On is HookOnController or HookOnHost.
	On string
	// Command is an argv, run as is (never through a shell the tool builds).
	Command []string
	Timeout time.Duration
	// Environment and SecretEnvironment are added to the variables the
	// rollout gives the command. Only SecretEnvironment may hold sensitive
	// values; they are redacted from output like every secret.
	Environment       map[string]string
	SecretEnvironment map[string]string
	DeclRange         hcl.Range
}

// For reports whether the hook runs around batches of service at moment when.
func (h *Hook) For(when, service string) bool {
	return h.When == when && (len(h.Services) == 0 || slices.Contains(h.Services, service))
}

// hookBlock is the HCL form of a hook block.
type hookBlock struct {
	When                   string            `hcl:"when"`
	WhenRange              hcl.Range         `hcl:"when,attr_range"`
	Service                []string          `hcl:"service,optional"`
	ServiceRange           hcl.Range         `hcl:"service,attr_range"`
	On                     string            `hcl:"on,optional"`
	OnRange                hcl.Range         `hcl:"on,attr_range"`
	Command                []string          `hcl:"command"`
	CommandRange           hcl.Range         `hcl:"command,attr_range"`
	Timeout                string            `hcl:"timeout,optional"`
	TimeoutRange           hcl.Range         `hcl:"timeout,attr_range"`
	Environment            map[string]string `hcl:"environment,optional"`
	EnvironmentRange       hcl.Range         `hcl:"environment,attr_range"`
	SecretEnvironment      map[string]string `hcl:"secret_environment,optional"`
	SecretEnvironmentRange hcl.Range         `hcl:"secret_environment,attr_range"`
}

// decodeHooks decodes the playbook's hook blocks, once each (a hook does
// not vary by host), after the services, whose names a hook's service
// list must use.
func (l *loader) decodeHooks(blocks []*placedBlock, ctx *hcl.EvalContext, services []*Service) []*Hook {
	names := map[string]bool{}
	for _, s := range services {
		names[s.Name] = true
	}
	seen := map[string]hcl.Range{}
	var out []*Hook
	for _, b := range blocks {
		var hb hookBlock
		l.diags = append(l.diags, gohcl.DecodeBody(l.guard(b.Body, secretAttrs), ctx, &hb)...)
		h := &Hook{Name: b.Name, When: hb.When, Services: hb.Service, On: hb.On, Command: hb.Command,
			Timeout: DefaultHookTimeout, Environment: hb.Environment, SecretEnvironment: hb.SecretEnvironment, DeclRange: b.DefRange}
		if l.checkName(b.NameRange, b.DefRange, "hook", b.Name) {
			if first, dup := seen[b.Name]; dup {
				l.errorf(b.NameRange, b.DefRange, "Duplicate hook", "A hook named %q is already declared at %s.", b.Name, first)
			}
			seen[b.Name] = b.DefRange
		}
		l.checkHook(h, &hb, b.DefRange, names)
		out = append(out, h)
	}
	return out
}

// checkHook validates one decoded hook against its source ranges.
func (l *loader) checkHook(h *Hook, hb *hookBlock, def hcl.Range, services map[string]bool) {
	if l.has(hb.WhenRange) {
		switch h.When {
		case HookBeforeBatch, HookAfterBatch, HookAfterRollback:
		default:
			l.errorf(hb.WhenRange, def, "Invalid hook moment",
				"when = %q: must be one of %q, %q or %q.", h.When, HookBeforeBatch, HookAfterBatch, HookAfterRollback)
		}
	}
	switch {
	case !set(hb.OnRange):
		h.On = HookOnController
	case h.On != HookOnController && h.On != HookOnHost:
		l.errorf(hb.OnRange, def, "Invalid hook place",
			"on = %q: must be %q (a command on this machine) or %q (on each host of the batch).", h.On, HookOnController, HookOnHost)
	}
	if l.has(hb.CommandRange) && (len(h.Command) == 0 || strings.TrimSpace(h.Command[0]) == "") {
		l.errorf(hb.CommandRange, def, "Empty hook command",
			`command is an argv whose first element names the program, such as ["sh", "-c", "..."].`)
	}
	for _, a := range h.Command {
		if strings.ContainsRune(a, 0) {
			l.errorf(hb.CommandRange, def, "Invalid hook command", "An argument of command contains a NUL character.")
			break
		}
	}
	if l.has(hb.TimeoutRange) {
		d, err := time.ParseDuration(hb.Timeout)
		if err != nil || d <= 0 {
			l.errorf(hb.TimeoutRange, def, "Invalid hook timeout", "timeout must be a positive duration such as \"30s\", not %q.", hb.Timeout)
		}
		h.Timeout = d
	}
	for _, s := range h.Services {
		if !services[s] {
			l.errorf(hb.ServiceRange, def, "Unknown service in hook",
				"service names %q, which is not a service of this playbook (hooks run around rolling batches of services).", s)
		}
	}
	l.checkEnv(hb.EnvironmentRange, def, "environment", h.Environment)
	l.checkEnv(hb.SecretEnvironmentRange, def, "secret_environment", h.SecretEnvironment)
	for _, e := range []struct {
		r   hcl.Range
		env map[string]string
	}{{hb.EnvironmentRange, h.Environment}, {hb.SecretEnvironmentRange, h.SecretEnvironment}} {
		for _, k := range mapKeys(e.env) {
			if strings.HasPrefix(k, "OPENIM_DEPLOY_") {
				l.errorf(e.r, def, "Reserved environment variable",
					"%s: the OPENIM_DEPLOY_ variables are set by the rollout for every hook.", k)
			}
		}
	}
}
