package phase

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/openimsdk/openim-deploy/internal/layout"
	"github.com/openimsdk/openim-deploy/internal/lock"
	"github.com/openimsdk/openim-deploy/internal/osinfo"
	"github.com/openimsdk/openim-deploy/internal/plan"
	"github.com/openimsdk/openim-deploy/internal/preflight"
	"github.com/openimsdk/openim-deploy/internal/release"
	"github.com/openimsdk/openim-deploy/internal/systemd"
	"github.com/openimsdk/openim-deploy/internal/target"
)

// ReadHosts is the one read of every host a run makes before it plans:
// one read-only round trip composing the host's facts (what pre-flight
// judges), its state (releases and manifests, the unit files the tool
// installed, systemd's view of every unit, the release each main process
// runs), who holds the app's lock, and for a rollback the history (the
// release ledger and the unit text kept in every release). Nothing after
// it reads the host until a step changes it, and a no-op apply is this
// round trip alone.
//
// Only when the composed read fails as a whole (sudo wants a password, a
// shell that is not POSIX) are the facts asked again alone, without sudo,
// so pre-flight names the cause.
//
// It connects each host it reads (one that is not connected yet), and
// reads it as soon as it is connected: a host's connection is opened for
// its read, and a large fleet's are parked once read (KeepConnectedUpTo).
// Connecting every host first and reading them after kept the whole
// fleet's idle connections open at once, and left cores idle between
// the two: a 1000-host plan took 7% longer and 26 MB more.
type ReadHosts struct {
	Facts bool // read the facts pre-flight judges
	// SFTP probes the SFTP subsystem too (the preflight command; apply's
	// push refuses a host without it when it first opens it).
	SFTP bool
	// AuditLines is how many of each host's last audit log lines to read.
	AuditLines int
	// WarnLocked says so when another run holds a host's lock (plan: no
	// lock follows to say it).
	WarnLocked bool
}

// Title implements Phase.
func (ReadHosts) Title() string { return "Connect and read hosts" }

// Run implements Phase. A host that cannot be reached is left out, as
// Connect leaves it; one that cannot be read fails (a bystander is
// skipped); the run stops when any failed, before anything is planned.
func (p ReadHosts) Run(ctx context.Context, r *Run) error {
	bins := &binaryCache{memo: map[string]preflight.Binary{}}
	bastions := r.bastions()
	var hosts []*Host // connected or to connect
	for _, h := range r.Hosts {
		if h.inPlay() {
			hosts = append(hosts, h)
		}
	}
	_ = eachHost(ctx, hosts, r.Opts.Parallel, func(ctx context.Context, h *Host) error {
		if h.Target == nil {
			if !r.connect(ctx, h, bastions) {
				return nil
			}
			h.connectedToRead = true
		}
		if err := p.read(ctx, r, h); err != nil {
			// The facts came back but not the rest: a host pre-flight
			// refuses (no systemd, say) fails the read for that reason,
			// which says more than the read's exit status.
			if p.Facts && h.Facts.Host != "" && refuse(r, h, bins) {
				return nil
			}
			h.Fail(OutcomeFailed, err)
			if h.Bystander {
				r.warnSkipped(h, "%v", err)
			} else {
				r.Out.HostError(h.Config.Name, "%v", err)
			}
		}
		return nil
	})
	if err := r.someReached(); err != nil {
		return err
	}
	if err := hostErrors(r, OutcomeFailed); err != nil {
		return fmt.Errorf("no host was changed:\n%w", err)
	}
	return nil
}

// CleanUp closes the connections Run opened.
func (ReadHosts) CleanUp(_ context.Context, r *Run) {
	for _, h := range r.Hosts {
		if h.connectedToRead && h.Target != nil {
			_ = h.Target.Close()
		}
	}
}

// readOptions say what a host read composes besides the state.
type readOptions struct {
	facts      bool // the facts pre-flight judges
	lock       bool // who holds the app's lock
	auditLines int
}

// hostRead is one host's composed read: its parts, in order (facts, the
// state, the lock's holder, the release units), and how to record what
// each printed.
type hostRead struct {
	readOptions
	history bool     // the ledger and the release units (Options.ReadLedger)
	names   []string // units in the order systemd answers for them
	root    string
	disk    string
}

// composeRead builds h's read as one program and its arguments.
func (r *Run) composeRead(h *Host, o readOptions) (*hostRead, string, []string, error) {
	rh := r.releaseHost(h)
	names, req := gatherRequest(h.Desired, o.auditLines, r.Opts.ReadLedger)
	gs, ga := rh.GatherScript(req)
	rd := &hostRead{readOptions: o, history: r.Opts.ReadLedger, names: names, root: rh.Root, disk: r.Config.Playbook.App.Root}
	var parts []target.Part
	if o.facts {
		parts = append(parts, osinfo.DetectPart(rd.disk))
	}
	parts = append(parts, target.Part{Script: gs, Args: ga})
	if o.lock {
		lp, err := lock.ReadPart(LockPath(r.Config.Playbook.App.Name))
		if err != nil {
			return nil, "", nil, err
		}
		parts = append(parts, lp)
	}
	if rd.history {
		parts = append(parts, rh.UnitsPart())
	}
	script, args := target.Compose(parts...)
	return rd, script, args, nil
}

func (p ReadHosts) read(ctx context.Context, r *Run, h *Host) error {
	rd, script, args, err := r.composeRead(h, readOptions{facts: p.Facts, lock: true, auditLines: p.AuditLines})
	if err != nil {
		return err
	}
	var forwarding chan error
	if p.Facts {
		forwarding = probeForwarding(ctx, h.Target) // in flight beside the read
	}
	sent := r.Clock.Now()
	res, err := target.ReadOnly(h.Target).Run(ctx, target.Cmd{Args: append([]string{"sh", "-c", script, "sh"}, args...),
		Sudo: h.Config.Become, ReadOnly: true})
	received := r.Clock.Now()
	if err != nil {
		if !p.Facts || ctx.Err() != nil {
			return fmt.Errorf("read the host: %w", err)
		}
		// Pre-flight names why (sudo, the shell) better than the read's
		// exit status: read the facts alone for it to judge. The state is
		// still unread, so the host fails either way.
		f, ferr := gatherFacts(ctx, h.Target, r.Clock.Now, rd.disk, instanceNames(h)...)
		if ferr != nil {
			return fmt.Errorf("pre-flight: %w", ferr)
		}
		h.Facts = f
		return fmt.Errorf("read the host: %w", err)
	}
	if err := rd.record(h, res.Stdout, res.Stderr, sent, received); err != nil {
		return err
	}
	if p.Facts {
		recordForwarding(&h.Facts, forwarding)
		if p.SFTP {
			h.Facts.SFTPChecked = true
			if _, err := target.ReadOnly(h.Target).Stat(ctx, "/"); err != nil {
				h.Facts.SFTPError = err.Error()
			}
		}
	}
	if p.WarnLocked && h.Holder.Live() {
		r.Out.HostWarn(h.Config.Name, "locked by %s: it may change the host before you apply", h.Holder)
	}
	if len(r.Hosts) > KeepConnectedUpTo {
		target.Park(h.Target)
	}
	return nil
}

// KeepConnectedUpTo is the largest fleet whose connections stay open from
// the read to the end of the run. In a larger one each host's connection
// is closed once it is read, and a host the run then changes connects
// again: most hosts of a large run have nothing to do, and an idle SSH
// connection holds about 55 KB of the controller's memory (its packet
// buffers), 55 MB for 1000 hosts, for nothing.
const KeepConnectedUpTo = 256

// record keeps what the read printed on h: facts, state (h.Actual, ready
// to plan from), the lock's holder and the release units.
func (rd *hostRead) record(h *Host, out, stderr []byte, sent, received time.Time) error {
	n := 1
	for _, part := range []bool{rd.facts, rd.lock, rd.history} {
		if part {
			n++
		}
	}
	outs, codes := target.SplitComposed(out, n)
	failed := func(what string, i int) error {
		return fmt.Errorf("read %s: exit status %d: %s", what, codes[i], strings.TrimSpace(string(stderr)))
	}
	i := 0
	if rd.facts {
		if codes[i] != 0 {
			return failed("facts", i)
		}
		f, err := osinfo.ParseDetect(outs[i], rd.disk, sent, received)
		if err != nil {
			return fmt.Errorf("detect facts: %w", err)
		}
		f.Host = h.Target.Name()
		h.Facts = f
		i++
	}
	if codes[i] != 0 {
		return failed("state", i)
	}
	st, err := release.ParseGather(outs[i])
	if err != nil {
		return err
	}
	if h.Actual, err = actualFrom(st, rd.names, rd.root); err != nil {
		return err
	}
	i++
	if rd.lock {
		if h.Holder, err = lock.ParseRead(outs[i], codes[i]); err != nil {
			return err
		}
		i++
	}
	if rd.history {
		if codes[i] != 0 {
			return failed("release units", i)
		}
		if h.Actual.ReleaseUnits, err = release.ParseReleaseUnits(outs[i]); err != nil {
			return err
		}
	}
	return nil
}

// releaseHost is h as the release package addresses it.
func (r *Run) releaseHost(h *Host) release.Host {
	app := r.Config.Playbook.App
	return release.Host{
		T: h.Target, Sudo: h.Config.Become, Root: app.Root, App: app.Name,
		UnitDir: layout.UnitDir, StateDir: layout.AppStateDir(app.Name), ShadowDirs: layout.VendorUnitDirs(),
	}
}

// gatherRequest is what the plan needs read about d: its unit files and
// drop-ins, and systemd's view of the target and every instance (names,
// in the order systemd will answer).
func gatherRequest(d plan.Desired, auditLines int, ledger bool) ([]string, release.Request) {
	var files []string
	for _, uf := range d.UnitFiles {
		files = append(files, uf.Name)
	}
	names := []string{d.Target}
	for _, u := range d.Units {
		for _, n := range u.Names {
			names = append(names, n)
			files = append(files, release.DropInPath(n))
		}
	}
	return names, release.Request{Files: files, Units: names, ShowProperties: systemd.ShowProperties, AuditLines: auditLines, Ledger: ledger}
}

// actualFrom turns a gathered state into what the plan compares against.
func actualFrom(st *release.State, names []string, root string) (plan.Actual, error) {
	names = append(names[:len(names):len(names)], st.Extra...)
	if len(st.Units) != len(names) {
		return plan.Actual{}, fmt.Errorf("systemctl show: asked about %d units, got %d records", len(names), len(st.Units))
	}
	a := plan.Actual{
		Current: st.Current, Releases: map[string]map[string]string{}, Partials: len(st.Partials),
		UnitFiles: st.Files, Owned: st.Owned, Wants: st.Wants, TaskRuns: st.TaskRuns,
		Units: map[string]plan.UnitState{}, Audit: st.Audit, Ledger: st.Ledger, CredKey: st.CredKey,
	}
	for _, f := range st.Foreign {
		a.Foreign = append(a.Foreign, plan.Foreign{Name: f.Rel, Kind: f.Kind, What: f.What})
	}
	for id, m := range st.Releases {
		a.Releases[id] = m
	}
	// systemd prints one record per argument, in argument order: order is
	// what ties a record to its unit (Id may be an alias).
	for i, us := range st.Units {
		ps := plan.UnitState{
			ActiveState: us.ActiveState,
			Active:      us.Active(), Enabled: us.Enabled(), Failed: us.ActiveState == "failed",
			StartLimitHit: us.StartLimitHit(),
			NeedReload:    us.NeedDaemonReload,
		}
		if us.MainPID > 0 {
			ps.Release = st.ReleaseOf(root, st.Cwd[us.MainPID])
		}
		a.Units[names[i]] = ps
	}
	return a, nil
}
