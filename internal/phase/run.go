// Package phase runs a command as an ordered list of phases over the fleet:
// render what the playbook wants (pure), read every host once (facts,
// state, the lock's holder), pre-flight and plan (pure: every decision is
// package plan's), then lock the hosts with changes and carry the plan out
// (release, units, dependency waves with health gates). Each phase is one
// file; the lists that order them live in phases.go.
package phase

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/openimsdk/openim-deploy/internal/clock"
	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/hook"
	"github.com/openimsdk/openim-deploy/internal/lock"
	"github.com/openimsdk/openim-deploy/internal/osinfo"
	"github.com/openimsdk/openim-deploy/internal/plan"
	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/ui"
)

// Phase is one step of a run.
type Phase interface {
	Title() string
	Run(ctx context.Context, r *Run) error
}

// Skipper is implemented by phases that can have nothing to do.
type Skipper interface {
	Skip(r *Run) (reason string, skip bool)
}

// CleanUpper is implemented by phases that must undo or release something
// whatever happens later (the host lock). CleanUp runs in reverse order,
// after success, failure or Ctrl-C.
type CleanUpper interface {
	CleanUp(ctx context.Context, r *Run)
}

// Dialer connects to one host. The CLI passes the SSH dialer; tests pass
// in-process or fake targets.
type Dialer func(ctx context.Context, h *config.Host, bastion *config.Bastion) (target.Target, error)

// Options tune a run.
type Options struct {
	Parallel  int           // hosts handled at once
	LockTTL   time.Duration // lease length; refreshed while the run lasts
	LockWait  time.Duration // wait this long for a held lock; 0 fails at once
	KeepGoing bool          // after a failed gate, keep starting units that do not depend on it
	Command   string        // the subcommand ("apply"), recorded in the lock as what holds it
	// Action names the command in the hosts' audit logs ("apply",
	// "rollback", "restart"); "" records nothing.
	Action    string
	ReleaseID string // id for a new release; the CLI derives it from the time
	// Rollout, when set, overrides every service's rollout policy for this
	// run (--batch, --canary, --pause).
	Rollout RolloutOverride
	// Confirm is called after a canary batch: it returns once the operator
	// confirmed (a terminal prompt, --confirm) or, in a non-interactive run,
	// after pause. nil waits pause.
	Confirm func(ctx context.Context, pause time.Duration) error
	// Confirmed goes on after a canary without waiting (--confirm).
	Confirmed bool
	// Strict makes pre-flight warnings refuse the host too (--strict).
	Strict bool
	// ReadLedger reads each host's release ledger with its state (rollback
	// and releases need the history; apply and plan do not).
	ReadLedger bool
	// Interrupt is closed at the first Ctrl-C: the run stops at the next
	// point where every host is settled (between phases, waves and rollout
	// batches) instead of in the middle of a restart. The second Ctrl-C
	// cancels the run's context and stops it at once. nil: never.
	Interrupt <-chan struct{}
	// Hooks runs the playbook's controller hooks; nil runs them as
	// processes of this machine with no environment inherited but PATH
	// (the CLI passes hook.Exec with its own environment).
	Hooks hook.Runner
	// NoHooks skips every hook, with a warning for each batch that had
	// some (--no-hooks).
	NoHooks bool
}

// ErrInterrupted is returned when a run stopped at a settled point after Ctrl-C.
var ErrInterrupted = errors.New("interrupted: stopped after the current step settled")

// interrupted returns ErrInterrupted (wrapping context.Canceled, so the
// exit code says interrupted) once the first Ctrl-C came, or ctx's error.
func (r *Run) interrupted(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-r.Opts.Interrupt:
		return fmt.Errorf("%w: %w", ErrInterrupted, context.Canceled)
	default:
		return nil
	}
}

// Outcome of a run on one host, for the recap.
type Outcome int

// Outcomes, worst last: a host's outcome only ever gets worse.
const (
	OutcomeOK Outcome = iota
	OutcomeChanged
	// OutcomeSkipped is a bystander (a host with nothing placed on it) that
	// could not be checked for leftovers before anything changed there:
	// said, but not a failure of the run.
	OutcomeSkipped
	OutcomeFailed
	OutcomeUnreachable
)

func (o Outcome) String() string {
	return [...]string{"ok", "changed", "skipped", "failed", "unreachable"}[o]
}

// Host is one inventory host and what the run learned and did there.
type Host struct {
	Config    *config.Host
	Placement config.HostPlacement
	Target    target.Target
	Facts     osinfo.Facts
	Actual    plan.Actual
	Desired   plan.Desired
	Plan      *plan.HostPlan
	Lease     *lock.Lease
	// Holder is the lease another run held when the host was read (nil
	// when none): a host it holds is locked (waited for, or refused) even
	// with nothing to change.
	Holder *lock.Info
	// Bystander marks a host the playbook places nothing on: it is visited
	// only to stop and remove what the tool installed there earlier. One
	// that cannot be checked (unreachable, no systemd, no sudo) is
	// skipped, not failed, as long as nothing changed on it.
	Bystander bool

	mu      sync.Mutex
	outcome Outcome
	err     error
	changes int
	// failed are the starts that failed here: their playbook units hold
	// back dependents, their instance names go to the ledger.
	failed []plan.Start
	// pushed: this run completed its new release here (Push release).
	pushed bool
	// rolledBack: an auto-rollback moved instances back here.
	rolledBack bool
	// written holds unit files and drop-ins this run wrote, so later steps
	// compare against what the host holds now, not what gather read.
	written map[string][]byte
	// deliveryChosen: chooseDelivery has decided how secrets reach the
	// host. credKeyNew is the key of the credential hashes this run made
	// for a host that had none: the first push stores it there.
	deliveryChosen bool
	credKeyNew     []byte
	// connectedToRead: ReadHosts opened the host's connection (and
	// closes it at the end of the run).
	connectedToRead bool
}

func (h *Host) String() string { return h.Config.Name }

// Fail records a failure; the host takes no further part in the run.
func (h *Host) Fail(o Outcome, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.Bystander && h.changes == 0 && o > OutcomeSkipped {
		o = OutcomeSkipped
	}
	if o > h.outcome {
		h.outcome = o
	}
	if h.err == nil {
		h.err = err
	}
}

// warnSkipped says why a bystander could not be checked for what the tool
// installed there earlier (it is skipped, not failed).
func (r *Run) warnSkipped(h *Host, format string, args ...any) {
	r.Out.HostWarn(h.Config.Name, "nothing is placed here; not checked for leftovers: "+format, args...)
}

// Changed counts a change made on the host.
func (h *Host) Changed(n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.changes += n
	if h.outcome < OutcomeChanged && n > 0 {
		h.outcome = OutcomeChanged
	}
}

// Result returns the host's outcome, its first error and its change count.
func (h *Host) Result() (Outcome, error, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.outcome, h.err, h.changes
}

// Usable reports whether the host is still taking part: connected, and
// neither failed nor skipped.
func (h *Host) Usable() bool {
	return h.inPlay() && h.Target != nil
}

// inPlay reports whether the host has neither failed nor been skipped
// (connected or not yet).
func (h *Host) inPlay() bool {
	o, _, _ := h.Result()
	return o < OutcomeSkipped
}

// Run is the state of one invocation, passed explicitly.
type Run struct {
	Config *config.Config
	Hosts  []*Host // inventory order
	Plan   *plan.Plan
	Out    *ui.Printer
	Opts   Options
	Dial   Dialer
	// Clock drives phase timings, health gates and lock waits; tests
	// inject a fake.
	Clock clock.Clock

	intent Intent // what ComputePlan planned, to plan a host again under its lock
	// local is Render's memo of the controller's files, which a host's
	// file-delivery variant (chooseDelivery) builds on.
	local     *LocalFiles
	graphOnce sync.Once
	g         plan.Graph
}

// graph is the playbook's dependency graph, built once per run.
func (r *Run) graph() plan.Graph {
	r.graphOnce.Do(func() { r.g = graphOf(r.Config.Playbook) })
	return r.g
}

// Usable returns the hosts still taking part, in inventory order.
func (r *Run) Usable() []*Host {
	var hs []*Host
	for _, h := range r.Hosts {
		if h.Usable() {
			hs = append(hs, h)
		}
	}
	return hs
}

// EachHost runs fn for every usable host, at most Opts.Parallel at a time. It
// waits for all and returns every failure wrapped with its host, in
// inventory order. It never cancels siblings: a half-finished host is worse
// than a finished one.
func (r *Run) EachHost(ctx context.Context, fn func(context.Context, *Host) error) error {
	return eachHost(ctx, r.Usable(), r.Opts.Parallel, fn)
}

func eachHost(ctx context.Context, hosts []*Host, limit int, fn func(context.Context, *Host) error) error {
	return eachHostAt(ctx, hosts, limit, func(ctx context.Context, _ int, h *Host) error { return fn(ctx, h) })
}

// eachHostAt is eachHost handing fn each host's index in hosts too, for a
// caller that keeps a result per host.
func eachHostAt(ctx context.Context, hosts []*Host, limit int, fn func(context.Context, int, *Host) error) error {
	if limit < 1 {
		limit = 1
	}
	errs := make([]error, len(hosts))
	var g errgroup.Group
	g.SetLimit(limit)
	for i, h := range hosts {
		g.Go(func() error {
			err := ctx.Err()
			if err == nil {
				err = fn(ctx, i, h)
			}
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", h, err)
			}
			return nil
		})
	}
	_ = g.Wait()
	return errors.Join(errs...)
}

// Runner runs phases in order and cleans up in reverse.
type Runner struct {
	Phases []Phase
}

// Execute runs every phase. On failure or cancellation it stops, then runs
// CleanUp of every phase that ran, in reverse, with a context that is not
// cancelled, so a Ctrl-C still releases locks.
func (rn Runner) Execute(ctx context.Context, r *Run) (err error) {
	var ran []Phase
	defer func() {
		cleanCtx := context.WithoutCancel(ctx)
		for _, p := range slices.Backward(ran) {
			if c, ok := p.(CleanUpper); ok {
				c.CleanUp(cleanCtx, r)
			}
		}
	}()
	for _, p := range rn.Phases {
		if err := r.interrupted(ctx); err != nil {
			return err
		}
		if s, ok := p.(Skipper); ok {
			if reason, skip := s.Skip(r); skip {
				r.Out.Skipped(p.Title(), reason)
				continue
			}
		}
		r.Out.Phase(p.Title())
		start := r.Clock.Now()
		ran = append(ran, p)
		if err := p.Run(ctx, r); err != nil {
			return fmt.Errorf("%s: %w", p.Title(), err)
		}
		r.Out.PhaseDone(p.Title(), r.Clock.Now().Sub(start))
	}
	return nil
}

// Func makes a phase out of a function, for one-off commands.
func Func(title string, fn func(context.Context, *Run) error) Phase { return funcPhase{title, fn} }

type funcPhase struct {
	title string
	fn    func(context.Context, *Run) error
}

func (f funcPhase) Title() string                         { return f.title }
func (f funcPhase) Run(ctx context.Context, r *Run) error { return f.fn(ctx, r) }
