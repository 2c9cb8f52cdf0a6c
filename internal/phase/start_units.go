package phase

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/health"
	"github.com/openimsdk/openim-deploy/internal/plan"
	"github.com/openimsdk/openim-deploy/internal/release"
	"github.com/openimsdk/openim-deploy/internal/systemd"
	"github.com/openimsdk/openim-deploy/internal/unit"
)

// StartUnits starts or restarts what the plan says, in dependency waves
// across the whole fleet: wave N begins only when every instance of wave
// N-1 on every host passed its health gate. Tasks run and must exit 0.
// Units with no edge between them share a wave and start together, so
// OpenIM's cyclic gRPC peers are never forced into an order.
type StartUnits struct{}

// Title implements Phase.
func (StartUnits) Title() string { return "Start units" }

// Skip implements Skipper.
func (StartUnits) Skip(r *Run) (string, bool) {
	for _, h := range r.Usable() {
		if h.Plan != nil && (len(h.Plan.Starts) > 0 || h.Plan.StartTarget) {
			return "", false
		}
	}
	return "every instance is running its current release", true
}

// Run implements Phase.
func (StartUnits) Run(ctx context.Context, r *Run) error {
	g := r.graph()
	failedUnits := r.unitsOnLostHosts() // playbook units with a failed or unknown instance anywhere
	failedInRun := map[string]bool{}    // playbook units with an instance that failed in this run
	var errs []error
	for w := range g.Waves() {
		if err := leasesLost(r); err != nil {
			return err
		}
		if err := r.interrupted(ctx); err != nil {
			return err
		}
		blocked := g.Blocked(failedUnits)
		err := r.eachHostUntilFailure(ctx, func(ctx context.Context, h *Host) error {
			return startFresh(ctx, r, h, w, blocked)
		}, func(h *Host) bool { return h.Plan != nil && h.Plan.StartsIn(w) })
		// afterFailure records what failed and says whether the run stops
		// here: always without --keep-going, and with it on Ctrl-C or a
		// lost lock.
		afterFailure := func(err error) (stop bool) {
			errs = append(errs, err)
			r.noteFailedUnits(failedUnits, failedInRun)
			if !r.Opts.KeepGoing || r.mustStop(ctx) {
				r.Out.Warn("stopping: a health gate failed; later waves were not started (use --keep-going to start units that do not depend on it)")
				return true
			}
			return false
		}
		if err != nil {
			if afterFailure(err) {
				break
			}
			// --keep-going: the wave's rolling restarts still run, except
			// for the units that failed and what depends on them.
			blocked = g.Blocked(failedUnits)
		}
		if err := r.rollWave(ctx, w, blocked, failedInRun); err != nil && afterFailure(err) {
			break
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	// With every wave healthy, start the app target itself (its members are
	// already up, so this starts nothing new): an active target is what makes
	// "systemctl stop/start <app>.target" act on the whole app. Not on a
	// host where instances were held back (what they depend on is on a host
	// that took no part): the target wants them, so starting it would start
	// them as if their dependencies were healthy.
	blocked := g.Blocked(failedUnits)
	return r.EachHost(ctx, func(ctx context.Context, h *Host) error {
		if !h.Plan.StartTarget {
			return nil
		}
		var held []string
		for _, s := range h.Plan.Starts {
			if blocked[s.Unit] {
				held = append(held, s.Name)
			}
		}
		if len(held) > 0 {
			r.Out.HostWarn(h.Config.Name, "not starting %s: it would start %s, held back", h.Desired.Target, strings.Join(held, " "))
			return nil
		}
		if err := systemd.Start(ctx, h.Target, h.Desired.Target); err != nil {
			h.Fail(OutcomeFailed, err)
			return err
		}
		h.Changed(1)
		return nil
	})
}

// noteFailedUnits adds to each set every playbook unit with an instance
// that failed on some host, so what depends on it is held back from now on.
func (r *Run) noteFailedUnits(sets ...map[string]bool) {
	for _, h := range r.Hosts {
		for _, u := range h.failedUnits() {
			for _, set := range sets {
				set[u] = true
			}
		}
	}
}

// mustStop reports a stop that --keep-going does not override: Ctrl-C, a
// cancelled run or a lock lost to another run.
func (r *Run) mustStop(ctx context.Context) bool {
	return r.interrupted(ctx) != nil || leasesLost(r) != nil
}

// unitsOnLostHosts returns the tasks and services placed on hosts that
// take no part in the run (unreachable, or failed before starting units):
// their instances there are not known to be healthy, so what depends on
// them must not start elsewhere as if the dependency were satisfied.
func (r *Run) unitsOnLostHosts() map[string]bool {
	lost := map[string]bool{}
	for _, h := range r.Hosts {
		if h.Usable() {
			continue
		}
		var names []string
		for _, t := range h.Placement.Tasks {
			names = append(names, t.Name)
		}
		for _, s := range h.Placement.Services {
			names = append(names, s.Name)
		}
		for _, n := range names {
			lost[n] = true
		}
		if len(names) > 0 {
			r.Out.HostWarn(h.Config.Name, "takes no part in this run: what depends on %s is not started on any host", strings.Join(names, ", "))
		}
	}
	return lost
}

// eachHostUntilFailure is EachHost for steps that restart processes: once
// one host has failed, hosts that have not begun are not started (unless
// --keep-going), so one bad binary is not restarted on 500 hosts before the
// run halts. Hosts that take part (has) but were never reached are named.
func (r *Run) eachHostUntilFailure(ctx context.Context, fn func(context.Context, *Host) error, has func(*Host) bool) error {
	var stop atomic.Bool
	var mu sync.Mutex
	var notReached []string
	err := r.EachHost(ctx, func(ctx context.Context, h *Host) error {
		if !has(h) {
			return nil
		}
		if stop.Load() && !r.Opts.KeepGoing {
			mu.Lock()
			notReached = append(notReached, h.Config.Name)
			mu.Unlock()
			return nil
		}
		err := fn(ctx, h)
		if err != nil {
			stop.Store(true)
		}
		return err
	})
	if len(notReached) > 0 {
		slices.SortFunc(notReached, r.inventoryOrder)
		r.Out.Warn("not reached after the failure (left as they were): %s", strings.Join(notReached, ", "))
	}
	return err
}

// inventoryOrder compares host names by their position in the inventory.
func (r *Run) inventoryOrder(a, b string) int {
	return slices.IndexFunc(r.Hosts, func(h *Host) bool { return h.Config.Name == a }) -
		slices.IndexFunc(r.Hosts, func(h *Host) bool { return h.Config.Name == b })
}

// startFresh runs this host's tasks of wave w and starts its instances
// that are not running: they are unavailable already, so they start at
// once, together (a quorum cluster's cold start needs every member up).
// Running instances are rolled in batches by rollService.
func startFresh(ctx context.Context, r *Run, h *Host, w int, blocked map[string]bool) error {
	var starts []plan.Start
	for _, s := range h.Plan.Starts {
		if s.Wave != w || s.Restart {
			continue
		}
		if blocked[s.Unit] {
			r.Out.HostWarn(h.Config.Name, "not starting %s: a dependency failed its health gate", s.Name)
			continue
		}
		starts = append(starts, s)
	}
	return startOnHost(ctx, r, h, starts, nil)
}

// startOnHost pins starts to their release (writing extra files with the
// drop-ins), runs tasks, (re)starts every service at once, then gates
// them all.
func startOnHost(ctx context.Context, r *Run, h *Host, starts []plan.Start, extra []release.File) error {
	if len(starts) == 0 {
		return nil
	}
	// Pin these instances to the wanted release now, not earlier: an
	// instance that crashes before its turn must come back on the release
	// it ran. One write and one reload for all of them.
	if err := pinWave(ctx, r, h, starts, extra); err != nil {
		h.Fail(OutcomeFailed, err)
		r.Out.HostError(h.Config.Name, "%v", err)
		return err
	}
	// Tasks first: they are one-shot and "systemctl restart" returns when
	// they have exited, so their result is known before anything else moves.
	var errs []error
	var services []plan.Start
	for _, s := range starts {
		if !s.Task {
			services = append(services, s)
			continue
		}
		r.Out.Host(h.Config.Name, "run %s (%s)", s.Name, s.Reason)
		if err := systemd.Restart(ctx, h.Target, s.Name); err != nil {
			errs = append(errs, h.reportFailure(ctx, r, s, fmt.Errorf("task %s failed: %w", s.Name, err)))
			continue
		}
		if s.Record != "" {
			if err := r.releaseHost(h).RecordTask(ctx, s.Unit, s.Record); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		h.Changed(1)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	// Every service instance of this step on this host (re)starts in one
	// systemctl call, so systemd runs their jobs side by side, with
	// reset-failed first: a unit that tripped StartLimitBurst refuses to
	// start until its counter is cleared. They are one batch: the gates
	// below decide together whether it passed.
	names := make([]string, len(services))
	for i, s := range services {
		names[i] = s.Name
		verb := "start"
		if s.Restart {
			verb = "restart"
		}
		r.Out.Host(h.Config.Name, "%s %s (%s)", verb, s.Name, s.Reason)
	}
	var gated []plan.Start
	if err := systemd.ResetAndRestart(ctx, h.Target, names...); err != nil {
		failed := systemd.FailedJobs(err, names)
		if len(failed) == 0 {
			failed = names // the call failed as a whole
		}
		for _, s := range services {
			if slices.Contains(failed, s.Name) {
				errs = append(errs, h.reportFailure(ctx, r, s, startError(h.Placement, s, err)))
			} else {
				gated = append(gated, s)
			}
		}
	} else {
		gated = services
	}
	h.Changed(len(gated))
	// Gate every started instance at once: waiting for one stable window per
	// host, not one per instance, keeps a cold start of 30 instances fast.
	// One poller per host batches every gate's "systemctl show" into one
	// session, so 30 gates never exceed sshd's MaxSessions.
	poller := health.NewPoller(h.Target)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, s := range gated {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := gate(ctx, r, h, poller, s); err != nil {
				mu.Lock()
				errs = append(errs, h.reportFailure(ctx, r, s, err))
				mu.Unlock()
				return
			}
			r.Out.Host(h.Config.Name, "healthy %s", s.Name)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// pinWave writes the drop-ins of the instances about to (re)start and
// makes systemd load them.
func pinWave(ctx context.Context, r *Run, h *Host, starts []plan.Start, extra []release.File) error {
	files := slices.Clone(extra)
	for _, s := range starts {
		rel := release.DropInPath(s.Name)
		if !bytes.Equal(h.unitFile(rel), s.DropIn) {
			files = append(files, release.File{Rel: rel, Content: s.DropIn})
		}
	}
	if len(files) == 0 {
		return nil
	}
	if err := r.releaseHost(h).InstallAndReload(ctx, files); err != nil {
		return err
	}
	h.wroteUnitFiles(files)
	return nil
}

// unitFile is what the host's unit directory holds at rel now: what this
// run wrote there, else what gather read.
func (h *Host) unitFile(rel string) []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	if b, ok := h.written[rel]; ok {
		return b
	}
	return h.Actual.UnitFiles[rel]
}

// wroteUnitFiles records files this run wrote to the unit directory.
func (h *Host) wroteUnitFiles(files []release.File) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.written == nil {
		h.written = map[string][]byte{}
	}
	for _, f := range files {
		h.written[f.Rel] = f.Content
	}
}

// gate waits until instance s is healthy by its playbook health policy.
func gate(ctx context.Context, r *Run, h *Host, poller *health.Poller, s plan.Start) error {
	hc := instanceHealth(h.Placement, s)
	probe := health.FromConfig(h.Target, hc)
	defer r.Out.Waiting(h.Config.Name, s.Name)() // on a terminal's status line
	return health.Wait(ctx, r.Clock, poller.State(s.Name), probe, health.PolicyFor(hc))
}

// startError is the error of a failed (re)start. A unit that waits for its
// own health check (ExecStartPost=) is not started until the check passes,
// so its failed start is a failed health gate, judged by systemd within
// TimeoutStartSec=, and is reported as one; reportFailure then shows its
// journal, which has the probe's "waiting: ..." lines or the process's own
// last words when it exited while starting.
func startError(hp config.HostPlacement, s plan.Start, err error) error {
	for _, svc := range hp.Services {
		if svc.Name == s.Unit && svc.WaitReady {
			return fmt.Errorf("(re)start %s: %w: its readiness check (ExecStartPost=) did not pass within TimeoutStartSec=, or the process exited while starting: %w",
				s.Name, health.ErrUnhealthy, err)
		}
	}
	return fmt.Errorf("(re)start %s: %w", s.Name, err)
}

// instanceHealth finds the health settings of the instance behind a unit
// name, as evaluated for this host (probes may use host.address).
func instanceHealth(hp config.HostPlacement, s plan.Start) config.Health {
	for _, svc := range hp.Services {
		if svc.Name != s.Unit {
			continue
		}
		for _, in := range svc.Instances {
			if s.Name == unit.InstanceName(svc.Name, in.Name) {
				return in.Health
			}
		}
	}
	return config.Health{}
}

// reportFailure prints the unit's status and its last journal lines, so the
// failure's cause comes back with the failure, and marks the host failed.
func (h *Host) reportFailure(ctx context.Context, r *Run, s plan.Start, err error) error {
	h.Fail(OutcomeFailed, err)
	h.mu.Lock()
	h.failed = append(h.failed, s)
	h.mu.Unlock()
	r.Out.HostError(h.Config.Name, "%v", err)
	ctx = context.WithoutCancel(ctx)
	if st := systemd.Status(ctx, h.Target, s.Name); st != "" {
		r.Out.Block(h.Config.Name, "systemctl status "+s.Name, st)
	}
	if j := systemd.Journal(ctx, h.Target, s.Name, 50); j != "" {
		r.Out.Block(h.Config.Name, "journalctl -u "+s.Name+" -n 50", j)
	}
	return err
}

// failedUnits returns the playbook units with an instance that failed on
// the host.
func (h *Host) failedUnits() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	units := make([]string, len(h.failed))
	for i, s := range h.failed {
		units[i] = s.Unit
	}
	return units
}

// failedInstances returns the systemd units that failed on the host.
func (h *Host) failedInstances() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	names := make([]string, len(h.failed))
	for i, s := range h.failed {
		names[i] = s.Name
	}
	return names
}

// leasesLost stops a run whose lock was broken or taken over: another run
// may be changing the same hosts, so starting more units would be unsafe.
func leasesLost(r *Run) error {
	for _, h := range r.Usable() {
		if h.Lease == nil {
			continue
		}
		select {
		case <-h.Lease.Lost():
			return fmt.Errorf("%s: lock lost, not starting more units: %w", h, h.Lease.Err())
		default:
		}
	}
	return nil
}
