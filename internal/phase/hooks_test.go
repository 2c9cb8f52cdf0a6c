package phase

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/hook"
	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/target/targettest"
	"github.com/openimsdk/openim-deploy/internal/ui"
)

// hookLog is one ordered record of what a run did: hooks run (by the
// fake runner or on a fake host) and restarts, so tests can check what
// ran before what.
type hookLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *hookLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
}

func (l *hookLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// fakeRunner is a hook.Runner that runs nothing: it logs "NAME BATCH
// HOSTS" (NAME is the argv's last element) and fails when fail says so.
type fakeRunner struct {
	log  *hookLog
	fail func(name, batch string) error
	mu   sync.Mutex
	envs [][]string
}

func (f *fakeRunner) Run(_ context.Context, c hook.Command) ([]byte, error) {
	name := c.Argv[len(c.Argv)-1]
	batch, hosts := envOf(c.Env, "OPENIM_DEPLOY_BATCH"), envOf(c.Env, "OPENIM_DEPLOY_HOSTS")
	f.log.add(fmt.Sprintf("%s %s %s", name, batch, hosts))
	f.mu.Lock()
	f.envs = append(f.envs, c.Env)
	f.mu.Unlock()
	if f.fail != nil {
		if err := f.fail(name, batch); err != nil {
			return []byte(name + " says no\n"), err
		}
	}
	return nil, nil
}

func envOf(env []string, name string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

// hookRun is newTestRun over hosts h1..hN that log their restarts to log,
// with the playbook's hooks set and a fake runner.
func hookRun(t *testing.T, log *hookLog, hooks []*config.Hook, fakes ...*targettest.Fake) (*Run, *fakeRunner, *lockedBuffer) {
	t.Helper()
	for _, f := range fakes {
		f.OnFunc(targettest.Contains("exec systemctl restart"), func(cmd target.Cmd) (target.Result, error) {
			log.add("restart " + f.Name() + " " + cmd.Args[len(cmd.Args)-1])
			return target.Result{}, nil
		})
	}
	r, _ := newTestRun(t, 4, false, fakes...)
	for i, h := range r.Hosts {
		h.Config.Address = fmt.Sprintf("10.0.0.%d", i+1)
	}
	r.Config.Playbook.Hooks = hooks
	r.Opts.Command = "restart"
	fr := &fakeRunner{log: log}
	r.Opts.Hooks = fr
	out := outputOf(r)
	return r, fr, out
}

func drainReady(services ...string) []*config.Hook {
	return []*config.Hook{
		{Name: "drain", When: config.HookBeforeBatch, On: config.HookOnController, Services: services, Command: []string{"drain"}, Timeout: 30e9},
		{Name: "ready", When: config.HookAfterBatch, On: config.HookOnController, Services: services, Command: []string{"ready"}, Timeout: 30e9},
		{Name: "undrain", When: config.HookAfterRollback, On: config.HookOnController, Services: services, Command: []string{"undrain"}, Timeout: 30e9},
	}
}

// TestHooks_AroundEachBatch: before_batch runs before the batch's
// instance restarts, after_batch after its gate, for every batch of the
// services the hooks name (rpc) and none of the others (api); each hook
// gets the batch's variables.
func TestHooks_AroundEachBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &hookLog{}
		r, fr, _ := hookRun(t, log, drainReady("rpc"), fakeHost("h1"), fakeHost("h2"), fakeHost("h3"))
		require.NoError(t, StartUnits{}.Run(t.Context(), r))
		require.Equal(t, []string{
			"drain 1/3 h1", "restart h1 rpc@0.service", "ready 1/3 h1",
			"drain 2/3 h2", "restart h2 rpc@0.service", "ready 2/3 h2",
			"drain 3/3 h3", "restart h3 rpc@0.service", "ready 3/3 h3",
			"restart h1 api@0.service", "restart h2 api@0.service", "restart h3 api@0.service",
		}, log.get())
		require.Equal(t, []string{
			"OPENIM_DEPLOY_HOSTS=h2",
			"OPENIM_DEPLOY_ADDRESSES=10.0.0.2",
			"OPENIM_DEPLOY_INSTANCES=h2/rpc@0.service",
			"OPENIM_DEPLOY_SERVICE=rpc",
			"OPENIM_DEPLOY_RELEASE=r2",
			"OPENIM_DEPLOY_BATCH=2/3",
			"OPENIM_DEPLOY_COMMAND=restart",
		}, fr.envs[3])
	})
}

// TestHooks_FailingBeforeBatch: a before_batch hook that fails fails its
// batch before anything in it restarts; no later batch starts; the
// batches already moved are rolled back (each drained first, then
// after_rollback), and the run fails naming the hook.
func TestHooks_FailingBeforeBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &hookLog{}
		a, b, c := fakeHost("h1"), fakeHost("h2"), fakeHost("h3")
		r, fr, out := hookRun(t, log, drainReady(), a, b, c)
		r.Opts.Rollout = func(p config.Rollout) config.Rollout { p.AutoRollback = true; return p }
		fr.fail = func(name, batch string) error {
			if name == "drain" && batch == "2/3" {
				return &hook.ExitError{Code: 3}
			}
			return nil
		}
		err := StartUnits{}.Run(t.Context(), r)
		require.ErrorContains(t, err, "rolling rpc: batch 2/3: before_batch hook drain failed: controller: exit 3")
		require.Equal(t, []string{
			"drain 1/3 h1", "restart h1 rpc@0.service", "ready 1/3 h1",
			"drain 2/3 h2",
			"drain 1/1 h1", "restart h1 rpc@0.service", "undrain 1/1 h1",
		}, log.get())
		require.Empty(t, restarted(b), "nothing in the failed batch restarted")
		require.Empty(t, restarted(c))
		text := out.String()
		require.Contains(t, text, "error: hook drain (before_batch) failed for rpc batch 2/3: controller: exit 3")
		require.Contains(t, text, "--- hook drain on controller (exit 3)\ndrain says no\n")
		require.Contains(t, text, "batch 2: its before_batch hook failed; nothing in it was restarted")
		o, _, _ := r.Hosts[1].Result()
		require.Equal(t, OutcomeFailed, o)
	})
}

// TestHooks_FailingAfterBatch: an after_batch hook that fails (here by
// its timeout) fails the batch as a failed gate does: no further batch,
// and the auto-rollback of what moved.
func TestHooks_FailingAfterBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &hookLog{}
		a, b := fakeHost("h1"), fakeHost("h2")
		r, fr, out := hookRun(t, log, drainReady(), a, b)
		r.Opts.Rollout = func(p config.Rollout) config.Rollout { p.AutoRollback = true; return p }
		fr.fail = func(name, batch string) error {
			if name == "ready" {
				return fmt.Errorf("%w after 30s", hook.ErrTimeout)
			}
			return nil
		}
		err := StartUnits{}.Run(t.Context(), r)
		require.ErrorContains(t, err, "after_batch hook ready failed: controller: timed out after 30s")
		require.Equal(t, []string{
			"drain 1/2 h1", "restart h1 rpc@0.service", "ready 1/2 h1",
			"drain 1/1 h1", "restart h1 rpc@0.service", "undrain 1/1 h1",
		}, log.get())
		require.Empty(t, restarted(b))
		require.Contains(t, out.String(), "batch 1 failed its after_batch hook; no further batch starts")
	})
}

// TestHooks_NoHooks: --no-hooks runs no hook and says so for every batch
// that had some.
func TestHooks_NoHooks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &hookLog{}
		r, _, out := hookRun(t, log, drainReady("rpc"), fakeHost("h1"), fakeHost("h2"))
		r.Opts.NoHooks = true
		require.NoError(t, StartUnits{}.Run(t.Context(), r))
		for _, l := range log.get() {
			require.True(t, strings.HasPrefix(l, "restart "), "no hook ran: %s", l)
		}
		text := out.String()
		require.Contains(t, text, "warning: rolling rpc: batch 1/2: not running before_batch hook drain (--no-hooks)")
		require.Contains(t, text, "warning: rolling rpc: batch 2/2: not running after_batch hook ready (--no-hooks)")
	})
}

// TestHooks_OnHost: a host hook runs on every host of its batch through
// the Target, its variables and secrets as the framing script's
// arguments (never in the command line's text, and redacted), its
// output folded across hosts; a host-side timeout is reported as one.
func TestHooks_OnHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &hookLog{}
		a, b := fakeHost("h1"), fakeHost("h2")
		var mu sync.Mutex
		var cmds []target.Cmd
		for _, f := range []*targettest.Fake{a, b} {
			f.OnFunc(targettest.Contains("# run.sh SECONDS COUNT"), func(cmd target.Cmd) (target.Result, error) {
				mu.Lock()
				cmds = append(cmds, cmd)
				mu.Unlock()
				if f.Name() == "h2" {
					return target.Result{Stdout: []byte("slow\n")}, &target.ExitError{Code: hook.HostTimedOut}
				}
				return target.Result{Stdout: []byte("warmed\n")}, nil
			})
		}
		hooks := []*config.Hook{{Name: "warm", When: config.HookAfterBatch, On: config.HookOnHost, Services: []string{"rpc"},
			Command: []string{"warm-cache", "--all"}, Timeout: 5e9, SecretEnvironment: map[string]string{"TOKEN": "t0ps3cret"}}}
		r, _, out := hookRun(t, log, hooks, a, b)
		r.Opts.Rollout = func(p config.Rollout) config.Rollout { p.Batch, p.MaxUnavailable = 2, 2; return p }
		err := StartUnits{}.Run(t.Context(), r)
		require.ErrorContains(t, err, "after_batch hook warm failed: h2: timed out after 5s")
		require.Len(t, cmds, 2)
		args := cmds[0].Args
		require.Equal(t, []string{"sh", "-c"}, args[:2])
		require.Equal(t, []string{"openim-deploy-hook", "5", "8", "OPENIM_DEPLOY_HOSTS=h1 h2"}, args[3:7])
		require.Equal(t, []string{"TOKEN=t0ps3cret", "warm-cache", "--all"}, args[len(args)-3:])
		require.Equal(t, []string{"t0ps3cret"}, cmds[0].Redact)
		require.False(t, cmds[0].Sudo)
		text := out.String()
		require.Contains(t, text, "--- hook warm on h1 (exit 0)\nwarmed\n")
		require.Contains(t, text, "--- hook warm on h2 (timed out after 5s)\nslow\n")
	})
}

// TestHooks_JSONEvents: --output json carries hook_start, hook_done and
// hook_failed with the hook, the batch and its hosts.
func TestHooks_JSONEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &hookLog{}
		r, fr, _ := hookRun(t, log, drainReady("rpc"), fakeHost("h1"), fakeHost("h2"))
		buf := &lockedBuffer{}
		r.Out = ui.New(buf, ui.Options{JSON: true})
		fr.fail = func(name, batch string) error {
			if name == "drain" && batch == "2/2" {
				return errors.New("boom")
			}
			return nil
		}
		require.Error(t, StartUnits{}.Run(t.Context(), r))
		var types []string
		for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			var ev ui.Event
			require.NoError(t, json.Unmarshal([]byte(line), &ev))
			if strings.HasPrefix(ev.Type, "hook_") && ev.Type != "hook_output" {
				types = append(types, fmt.Sprintf("%s %s %s %v", ev.Type, ev.Fields["hook"], ev.Fields["batch"], ev.Fields["hosts"]))
			}
		}
		require.Equal(t, []string{
			"hook_start drain 1/2 [h1]", "hook_done drain 1/2 [h1]",
			"hook_start ready 1/2 [h1]", "hook_done ready 1/2 [h1]",
			"hook_start drain 2/2 [h2]", "hook_failed drain 2/2 [h2]",
			"hook_start drain 1/1 [h1]", "hook_done drain 1/1 [h1]", // the auto-rollback of h1
			"hook_start undrain 1/1 [h1]", "hook_done undrain 1/1 [h1]",
		}, types)
	})
}

// TestHooks_InPlan: the plan says which hooks run around which batch.
func TestHooks_InPlan(t *testing.T) {
	log := &hookLog{}
	r, _, out := hookRun(t, log, drainReady("rpc"), fakeHost("h1"), fakeHost("h2"))
	r.writeHookPlan()
	require.Equal(t, "hooks around rpc batch 1/2 (h1/rpc@0.service): before_batch: drain (controller); after_batch: ready (controller); after_rollback: undrain (controller)\n"+
		"hooks around rpc batch 2/2 (h2/rpc@0.service): before_batch: drain (controller); after_batch: ready (controller); after_rollback: undrain (controller)\n",
		out.String())
	r.Opts.NoHooks = true
	out2 := outputOf(r)
	r.writeHookPlan()
	require.Contains(t, out2.String(), "(skipped: --no-hooks)")
}
