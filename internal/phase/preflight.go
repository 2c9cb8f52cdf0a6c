package phase

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/osinfo"
	"github.com/openimsdk/openim-deploy/internal/preflight"
	"github.com/openimsdk/openim-deploy/internal/systemd"
	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/unit"
)

// Preflight judges the facts ReadHosts read of every host (OS, init
// system, architecture, resources) and refuses hosts that cannot run the
// playbook, with the fact that failed. It does not ask the hosts anything.
// All or nothing: when any host is refused the run stops before a single
// host is changed, because a fleet deployed minus a few hosts breaks
// cross-host dependencies in ways that are harder to see than a refusal.
type Preflight struct{}

// Title implements Phase.
func (Preflight) Title() string { return "Pre-flight" }

// Run implements Phase.
func (Preflight) Run(ctx context.Context, r *Run) error {
	bins := &binaryCache{memo: map[string]preflight.Binary{}}
	_ = r.EachHost(ctx, func(ctx context.Context, h *Host) error {
		req, err := requirements(r, h, bins)
		if err != nil {
			h.Fail(OutcomeFailed, err)
			return nil
		}
		reportProblems(r, h, preflight.Check(h.Facts, req, r.Clock.Now()))
		return nil
	})
	facts := map[string]osinfo.Facts{}
	for _, h := range r.Usable() {
		facts[h.Config.Name] = h.Facts
	}
	for _, p := range preflight.CheckFleet(facts) {
		for _, h := range r.Usable() {
			if h.Config.Name == p.Host {
				reportProblems(r, h, []preflight.Problem{p})
			}
		}
	}
	if err := hostErrors(r, OutcomeFailed); err != nil {
		return fmt.Errorf("%w: no host was changed:\n%w", preflight.ErrRefused, err)
	}
	return nil
}

// gatherFacts runs detection read-only, with the state of units read in
// the same round trip, timed by now (the run's clock: pre-flight compares
// the host's clock with it), and probes the SFTP subsystem and TCP
// forwarding.
func gatherFacts(ctx context.Context, t target.Target, now func() time.Time, root string, units ...string) (osinfo.Facts, error) {
	ro := target.ReadOnly(t)
	forwarding := probeForwarding(ctx, t)
	f, err := osinfo.DetectWith(ctx, ro, osinfo.Options{DiskPath: root, Units: units, Now: now})
	if err != nil {
		return f, err
	}
	f.SFTPChecked = true
	if _, err := ro.Stat(ctx, "/"); err != nil {
		f.SFTPError = err.Error()
	}
	recordForwarding(&f, forwarding)
	return f, nil
}

// recordForwarding waits for probeForwarding's answer (none when c is
// nil: the target cannot be asked) and records it in f.
func recordForwarding(f *osinfo.Facts, c chan error) {
	if c == nil {
		return
	}
	f.ForwardingChecked = true
	if err := <-c; err != nil {
		f.ForwardingError = err.Error()
	}
}

// probeForwarding asks, in the background, whether the host's sshd
// forwards TCP (only SSH targets can be asked; opening a channel writes
// nothing). The answer arrives on the channel; nil when t cannot be asked.
func probeForwarding(ctx context.Context, t target.Target) chan error {
	fw, ok := t.(interface{ TCPForwarding(context.Context) error })
	if !ok {
		return nil
	}
	c := make(chan error, 1)
	go func() { c <- fw.TCPForwarding(ctx) }()
	return c
}

// refuse judges h's facts alone and reports whether pre-flight refused
// it (and said why).
func refuse(r *Run, h *Host, bins *binaryCache) bool {
	req, err := requirements(r, h, bins)
	if err != nil {
		return false
	}
	ps := preflight.Check(h.Facts, req, r.Clock.Now())
	if r.Opts.Strict {
		ps = preflight.Strict(ps)
	}
	if preflight.Err(ps) == nil {
		return false
	}
	reportProblems(r, h, ps)
	return true
}

func reportProblems(r *Run, h *Host, ps []preflight.Problem) {
	if r.Opts.Strict {
		ps = preflight.Strict(ps)
	}
	for _, p := range ps {
		if p.Severity == preflight.SeverityError && h.Bystander {
			r.warnSkipped(h, "%s: %s", p.Check, p.Message)
		} else if p.Severity == preflight.SeverityError {
			r.Out.HostError(h.Config.Name, "refused: %s: %s", p.Check, p.Message)
		} else {
			r.Out.HostWarn(h.Config.Name, "%s: %s", p.Check, p.Message)
		}
	}
	if err := preflight.Err(ps); err != nil {
		h.Fail(OutcomeFailed, err)
	}
}

type binaryCache struct {
	mu   sync.Mutex
	memo map[string]preflight.Binary
}

func (c *binaryCache) inspect(p string) (preflight.Binary, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.memo[p]; ok {
		return b, nil
	}
	b, err := preflight.InspectBinary(p)
	if err == nil {
		c.memo[p] = b
	}
	return b, err
}

// requirements says what the playbook needs from h. Ports held by this
// app's own instances that are already active do not count as conflicts.
func requirements(r *Run, h *Host, bins *binaryCache) (preflight.Requirements, error) {
	hp := h.Placement
	req := preflight.Requirements{
		Root:       r.Config.Playbook.App.Root,
		NeedSudo:   target.UsesSudo(h.Target, h.Config.User, h.Config.Become),
		OwnedPorts: map[int]bool{},
	}
	if h.Desired.DeliversCredentials() {
		req.Credentials = preflight.CredsPreferred
		if r.Config.Playbook.App.SecretDelivery == config.DeliverCredential {
			req.Credentials = preflight.CredsRequired
		}
	}
	seen := map[string]bool{}
	addBin := func(u *config.Unit) error {
		if r := u.Remote; r != nil {
			// Fetched by the host itself: nothing local to inspect, and
			// the host needs a tool to fetch it with.
			if !seen[r.URL] {
				seen[r.URL] = true
				req.Fetch = append(req.Fetch, r.URL)
				if r.Header != "" {
					req.FetchAuth = append(req.FetchAuth, r.URL)
				}
			}
			return nil
		}
		p := u.Binary
		if seen[p] {
			return nil
		}
		seen[p] = true
		b, err := bins.inspect(p)
		if err != nil {
			return err
		}
		req.Binaries = append(req.Binaries, b)
		return nil
	}
	for _, t := range hp.Tasks {
		if err := addBin(&t.Unit); err != nil {
			return req, err
		}
	}
	names := instanceNames(h)
	var ports [][]int
	for _, s := range hp.Services {
		if err := addBin(&s.Unit); err != nil {
			return req, err
		}
		req.MinNofile = max(req.MinNofile, s.LimitNOFILE)
		req.ReadinessProbe = req.ReadinessProbe || s.WaitReady
		for _, in := range s.Instances {
			ports = append(ports, in.Health.Ports)
			req.NetworkProbes = req.NetworkProbes || in.Health.TCP != "" || in.Health.HTTP != ""
			req.Ports = append(req.Ports, in.Health.Ports...)
		}
	}
	// The units' state came back with the host's state, or, when only the
	// facts could be read, with them; systemd prints one record per unit
	// in argument order, so index i is names[i].
	owns := func(i int, activeState string) {
		if activeState == "active" || activeState == "activating" {
			for _, p := range ports[i] {
				req.OwnedPorts[p] = true
			}
		}
	}
	if h.Actual.Units != nil {
		for i, n := range names {
			owns(i, h.Actual.Units[n].ActiveState)
		}
	} else if states, err := systemd.ParseShow(h.Facts.UnitShow); err == nil && len(states) == len(names) {
		for i, st := range states {
			owns(i, st.ActiveState)
		}
	}
	return req, nil
}

// instanceNames are the unit names of every service instance placed on h,
// in playbook order: the units whose ports are the app's own when active.
func instanceNames(h *Host) []string {
	var names []string
	for _, s := range h.Placement.Services {
		for _, in := range s.Instances {
			names = append(names, unit.InstanceName(s.Name, in.Name))
		}
	}
	return names
}
