package phase

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/hook"
	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/ui"
)

// hostHookGrace is how long past a host hook's timeout the controller
// waits for the host's own timeout (coreutils timeout, then SIGKILL 5 s
// later) to end it, before it ends the SSH session itself.
const hostHookGrace = 10 * time.Second

// batchRef names one rolling batch for its hooks: which service, which
// instances, and its place among the service's batches ("2/6").
type batchRef struct {
	svc   *config.Service
	items []rollItem
	n, of int
}

// hooksFor returns the playbook's hooks that run at moment when around
// batches of service, in playbook order.
func (r *Run) hooksFor(when, service string) []*config.Hook {
	var out []*config.Hook
	for _, h := range r.Config.Playbook.Hooks {
		if h.For(when, service) {
			out = append(out, h)
		}
	}
	return out
}

// runHooks runs, one after the other, the hooks for moment when around
// batch b, and returns the first failure (the hooks after it do not run).
// With --no-hooks it says, as a warning, which hooks it skips.
func (r *Run) runHooks(ctx context.Context, when string, b batchRef) error {
	hooks := r.hooksFor(when, b.svc.Name)
	if len(hooks) == 0 {
		return nil
	}
	if r.Opts.NoHooks {
		names := make([]string, len(hooks))
		for i, h := range hooks {
			names[i] = h.Name
		}
		r.Out.Warn("rolling %s: batch %d/%d: not running %s hook %s (--no-hooks)", b.svc.Name, b.n, b.of, when, strings.Join(names, ", "))
		return nil
	}
	vars := r.hookVars(b)
	for _, h := range hooks {
		if err := r.runHook(ctx, h, vars, b); err != nil {
			return err
		}
	}
	return nil
}

// hookVars are the OPENIM_DEPLOY_* variables of batch b.
func (r *Run) hookVars(b batchRef) hook.Vars {
	v := hook.Vars{Service: b.svc.Name, Batch: fmt.Sprintf("%d/%d", b.n, b.of), Command: r.Opts.Command}
	var releases []string
	for _, h := range batchHosts(b.items) {
		v.Hosts = append(v.Hosts, h.Config.Name)
		v.Addresses = append(v.Addresses, h.Config.Address)
		if h.Plan != nil && h.Plan.Release != "" && !slices.Contains(releases, h.Plan.Release) {
			releases = append(releases, h.Plan.Release)
		}
	}
	for _, it := range b.items {
		v.Instances = append(v.Instances, it.String())
	}
	v.Release = strings.Join(releases, " ")
	return v
}

// batchHosts are the hosts of items, each once, in the items' order.
func batchHosts(items []rollItem) []*Host {
	var hosts []*Host
	for _, it := range items {
		if !slices.Contains(hosts, it.h) {
			hosts = append(hosts, it.h)
		}
	}
	return hosts
}

// hookEnv is h's environment: the batch's variables, then the playbook's
// environment and secret_environment for the hook, each sorted by name.
func hookEnv(h *config.Hook, vars hook.Vars) (env, secrets []string) {
	env = vars.Env()
	for _, k := range sortedKeys(h.Environment) {
		env = append(env, k+"="+h.Environment[k])
	}
	for _, k := range sortedKeys(h.SecretEnvironment) {
		env = append(env, k+"="+h.SecretEnvironment[k])
	}
	for _, k := range sortedKeys(h.SecretEnvironment) {
		secrets = append(secrets, h.SecretEnvironment[k])
	}
	return env, secrets
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// hookResult is what one run of a hook (on the controller, or on one
// host) printed and how it ended.
type hookResult struct {
	where  string // "controller" or the host's name
	output string
	status string // "exit 0", "exit 3", "timed out after 30s", or the error
	err    error
}

// runHook runs one hook for batch b: once on the controller, or on every
// host of the batch side by side. Its output is printed grouped (hosts
// that printed the same, with the same status, share one section) and it
// emits hook_start, then hook_done or hook_failed.
func (r *Run) runHook(ctx context.Context, h *config.Hook, vars hook.Vars, b batchRef) error {
	env, secrets := hookEnv(h, vars)
	fields := func() map[string]any {
		return map[string]any{"hook": h.Name, "when": h.When, "on": h.On, "service": vars.Service,
			"batch": vars.Batch, "hosts": vars.Hosts, "instances": vars.Instances, "release": vars.Release}
	}
	where := "on the controller"
	if h.On == config.HookOnHost {
		where = "on " + ui.CompactNames(vars.Hosts)
	}
	text := fmt.Sprintf("hook %s (%s) %s for %s batch %s: %s", h.Name, h.When, where, vars.Service, vars.Batch, strings.Join(vars.Instances, " "))
	r.Out.Event(ui.Event{Type: "hook_start", Msg: text, Fields: fields()}, text)
	start := r.Clock.Now()
	var results []hookResult
	if h.On == config.HookOnHost {
		results = r.runHostHook(ctx, h, env, secrets, batchHosts(b.items))
	} else {
		results = []hookResult{r.runControllerHook(ctx, h, env)}
	}
	printHookOutput(r.Out, h, results)
	var errs []error
	for _, res := range results {
		if res.err != nil {
			errs = append(errs, fmt.Errorf("%s: %s", res.where, res.status))
		}
	}
	took := r.Clock.Now().Sub(start)
	f := fields()
	f["seconds"] = took.Seconds()
	if len(errs) > 0 {
		err := fmt.Errorf("%s hook %s failed: %w", h.When, h.Name, errors.Join(errs...))
		f["error"] = err.Error()
		msg := fmt.Sprintf("hook %s (%s) failed for %s batch %s: %s", h.Name, h.When, vars.Service, vars.Batch, oneLine(errors.Join(errs...).Error()))
		r.Out.Event(ui.Event{Type: "hook_failed", Msg: msg, Fields: f}, "error: "+msg)
		return err
	}
	msg := fmt.Sprintf("hook %s (%s) done for %s batch %s (took %s)", h.Name, h.When, vars.Service, vars.Batch, took.Round(100*time.Millisecond))
	r.Out.Event(ui.Event{Type: "hook_done", Msg: msg, Fields: f}, msg)
	return nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// runControllerHook runs h on this machine through the run's Runner.
func (r *Run) runControllerHook(ctx context.Context, h *config.Hook, env []string) hookResult {
	runner := r.Opts.Hooks
	if runner == nil {
		runner = hook.Exec{}
	}
	out, err := runner.Run(ctx, hook.Command{Argv: h.Command, Env: env, Timeout: h.Timeout})
	return hookResult{where: "controller", output: string(out), status: hookStatus(err, h.Timeout), err: err}
}

// runHostHook runs h on every host of hosts at once (at most
// Opts.Parallel), through each host's Target, and returns the results in
// hosts' order.
func (r *Run) runHostHook(ctx context.Context, h *config.Hook, env, secrets []string, hosts []*Host) []hookResult {
	results := make([]hookResult, len(hosts))
	index := map[*Host]int{}
	for i, host := range hosts {
		index[host] = i
	}
	_ = eachHost(ctx, hosts, r.Opts.Parallel, func(ctx context.Context, host *Host) error {
		tctx, cancel := context.WithTimeout(ctx, h.Timeout+hostHookGrace)
		defer cancel()
		res, err := host.Target.Run(tctx, hook.HostCmd(h.Command, env, h.Timeout, secrets))
		var ee *target.ExitError
		if errors.As(err, &ee) && ee.Code == hook.HostTimedOut {
			err = fmt.Errorf("%w after %s", hook.ErrTimeout, h.Timeout)
		} else if errors.As(err, &ee) {
			err = &hook.ExitError{Code: ee.Code}
		}
		results[index[host]] = hookResult{where: host.Config.Name, output: string(res.Stdout) + string(res.Stderr),
			status: hookStatus(err, h.Timeout), err: err}
		return nil
	})
	return results
}

// hookStatus says how a hook ended, for its output's header and errors.
func hookStatus(err error, timeout time.Duration) string {
	var ee *hook.ExitError
	switch {
	case err == nil:
		return "exit 0"
	case errors.As(err, &ee):
		return fmt.Sprintf("exit %d", ee.Code)
	case errors.Is(err, hook.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("timed out after %s", timeout)
	}
	return oneLine(err.Error())
}

// printHookOutput prints what a hook printed, as exec prints commands'
// output: each distinct (output, status) once, under a header naming
// where it ran ("--- hook drain on lab-1..3 (exit 0)"), every line
// escaped. A hook that printed nothing and succeeded prints no section.
func printHookOutput(out *ui.Printer, h *config.Hook, results []hookResult) {
	type group struct {
		where []string
		res   hookResult
	}
	var groups []*group
	for _, res := range results {
		if strings.TrimSpace(res.output) == "" && res.err == nil {
			continue
		}
		var gr *group
		for _, g := range groups {
			if g.res.output == res.output && g.res.status == res.status {
				gr = g
			}
		}
		if gr == nil {
			gr = &group{res: res}
			groups = append(groups, gr)
		}
		gr.where = append(gr.where, res.where)
	}
	for _, g := range groups {
		title := fmt.Sprintf("hook %s on %s (%s)", h.Name, ui.CompactNames(g.where), g.res.status)
		out.Output(ui.Event{Type: "hook_output", Host: strings.Join(g.where, ","), Msg: title,
			Fields: map[string]any{"hook": h.Name, "where": g.where, "status": g.res.status, "output": g.res.output}},
			ui.OutputHeaderPrefix+title, g.res.output)
	}
}

// writeHookPlan prints, after the plan, which hooks run around which
// rolling batch: one line per batch of every service rolled, naming the
// hooks before and after it (and those that run if the batch is rolled
// back). Nothing when the playbook has no hooks or nothing is rolled.
func (r *Run) writeHookPlan() {
	if len(r.Config.Playbook.Hooks) == 0 {
		return
	}
	for _, svc := range r.Config.Playbook.Services {
		items := r.rollItems(svc.Name, -1)
		if len(items) == 0 {
			continue
		}
		_, bs, _ := r.rollBatches(svc, items)
		for i, batch := range bs {
			var parts []string
			fields := map[string]any{"service": svc.Name, "batch": fmt.Sprintf("%d/%d", i+1, len(bs)), "skipped": r.Opts.NoHooks}
			names := make([]string, len(batch))
			for j, it := range batch {
				names[j] = it.String()
			}
			fields["instances"] = names
			for _, when := range []string{config.HookBeforeBatch, config.HookAfterBatch, config.HookAfterRollback} {
				var hs []string
				for _, h := range r.hooksFor(when, svc.Name) {
					hs = append(hs, fmt.Sprintf("%s (%s)", h.Name, h.On))
				}
				fields[when] = hs
				if len(hs) > 0 {
					parts = append(parts, when+": "+strings.Join(hs, ", "))
				}
			}
			if len(parts) == 0 {
				continue
			}
			text := fmt.Sprintf("hooks around %s batch %d/%d (%s): %s", svc.Name, i+1, len(bs), strings.Join(names, " "), strings.Join(parts, "; "))
			if r.Opts.NoHooks {
				text += " (skipped: --no-hooks)"
			}
			r.Out.Event(ui.Event{Type: "plan_hooks", Msg: text, Fields: fields}, text)
		}
	}
}
