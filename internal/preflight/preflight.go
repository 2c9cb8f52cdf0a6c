// Package preflight decides whether a host can take a deployment, from the
// facts osinfo.Detect gathered and what the playbook will push and run.
//
// Check and CheckFleet are pure: they never touch a host or the local disk
// (InspectBinary reads local binaries once, before). Each Problem names the
// check and the fact that failed, so a refusal explains itself:
//
//	im-3: error: init: init system is sysvinit; openim-deploy needs systemd (no /run/systemd/system; PID 1 is init; /etc/inittab present)
//
// A host with any SeverityError problem must be refused; warnings are shown
// and the run goes on (Strict turns them into refusals). Errors are what
// makes the deploy itself fail: no systemd, a binary for another
// architecture, no space, no sudo, no SFTP, a taken port, a clock a minute
// or more off. Warnings concern the operator: duplicate machine-ids from a
// cloned image, a clock skew under a minute, a low nofile ceiling.
package preflight

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/openimsdk/openim-deploy/internal/osinfo"
)

// Severity says whether a Problem refuses the host.
type Severity string

// Severities.
const (
	SeverityError   Severity = "error"   // the host is refused
	SeverityWarning Severity = "warning" // shown; the run goes on
)

// Names of the checks, as Problem.Check.
const (
	CheckFacts     = "facts"
	CheckOS        = "os"
	CheckInit      = "init"
	CheckSystemd   = "systemd"
	CheckArch      = "arch"
	CheckDisk      = "disk"
	CheckMemory    = "memory"
	CheckSudo      = "sudo"
	CheckSFTP      = "sftp"
	CheckPorts     = "ports"
	CheckClock     = "clock"
	CheckNofile    = "nofile"
	CheckMachineID = "machine-id"
	CheckForward   = "forwarding"
	CheckFetch     = "fetch"
	CheckCreds     = "credentials"
)

// Defaults used when a Requirements field is zero.
const (
	// DefaultMinFreeMemory is 1 GiB of MemAvailable.
	DefaultMinFreeMemory = 1 << 30
	// DefaultMinSystemd is systemd 219, CentOS 7's: the oldest in the
	// supported OS list. Below RecommendedSystemd a warning is given.
	DefaultMinSystemd = 219
	// RecommendedSystemd: older versions may ignore start-limit settings in
	// [Unit] (StartLimitIntervalSec=), so they get a warning.
	RecommendedSystemd = 230
	// DefaultMaxClockSkew is how far a host's clock may be from the
	// controller's before pre-flight warns.
	DefaultMaxClockSkew = 5 * time.Second
	// RefuseClockSkew is the skew from which pre-flight refuses the host.
	RefuseClockSkew = time.Minute
	// CredentialsSystemd is the oldest systemd whose credentials
	// (systemd-creds encrypt, LoadCredentialEncrypted=) secret delivery
	// uses: systemd-creds appeared in 250.
	CredentialsSystemd = 250
	// DiskMargin is added to what a release needs on disk.
	DiskMargin = 64 << 20
)

// Requirements is what a deployment needs from one host.
type Requirements struct {
	// Binaries are the local files pushed to this host, from InspectBinary.
	Binaries []Binary
	// ExtraBytes is the size of everything else pushed per release (file sets).
	ExtraBytes int64
	// Root is the app root on the host; free disk is checked under it, so
	// osinfo.Options.DiskPath must have been Root.
	Root string
	// Ports are the TCP ports the services placed on this host listen on.
	Ports []int
	// OwnedPorts are ports the caller knows are held by this app's own
	// services, already running (a redeploy): a listener on them is not a
	// conflict. Preflight cannot tell who holds a socket without root (the
	// /proc/net/tcp inode → /proc/PID/fd mapping), so the caller decides,
	// typically from the ports of instances whose units are active.
	OwnedPorts map[int]bool
	// NeedSudo says privileged steps go through "sudo -n" (become = true).
	NeedSudo bool
	// MinFreeMemory in bytes of MemAvailable: 0 means DefaultMinFreeMemory,
	// negative turns the check off.
	MinFreeMemory int64
	// MinNofile is the largest LimitNOFILE= a unit on this host sets; 0 turns
	// the check off. systemd cannot raise a service above fs.nr_open.
	MinNofile int
	// MinSystemd: 0 means DefaultMinSystemd.
	MinSystemd int
	// Credentials says how the host's secrets are to be delivered:
	// CredsNone (it has none, or secret_delivery = "file"), CredsPreferred
	// (the default: systemd credentials where supported, else 0600 files
	// with a warning), CredsRequired (secret_delivery = "credential": a
	// host without them is refused).
	Credentials CredsNeed
	// MaxClockSkew: 0 means DefaultMaxClockSkew.
	MaxClockSkew time.Duration
	// ReadinessProbe says a unit on this host waits for its own health
	// check, running the release's openim-probe: the host's architecture
	// must be one it is built for.
	ReadinessProbe bool
	// NetworkProbes says a service on this host has a tcp or http health
	// probe, which needs TCP forwarding or the relay that replaces it.
	NetworkProbes bool
	// Fetch lists the URLs of binaries this host fetches itself
	// (artifact() in the playbook): it needs curl or wget. FetchAuth lists
	// those fetched with credentials, which only curl takes on stdin.
	Fetch     []string
	FetchAuth []string
}

// Problem is one failed or doubtful check on one host.
type Problem struct {
	Host     string
	Check    string // one of the Check* names
	Severity Severity
	Message  string
}

// CredsNeed is Requirements.Credentials.
type CredsNeed int

// How much a host's secrets need systemd credentials.
const (
	CredsNone CredsNeed = iota
	CredsPreferred
	CredsRequired
)

// SupportsCredentials reports whether f's host can take secrets as
// encrypted systemd credentials (systemd CredentialsSystemd or newer).
func SupportsCredentials(f osinfo.Facts) bool {
	return f.Init == osinfo.InitSystemd && f.Known("systemd") && f.SystemdVersion >= CredentialsSystemd
}

// String renders "im-1: error: init: init system is sysvinit; …".
func (p Problem) String() string {
	return fmt.Sprintf("%s: %s: %s: %s", p.Host, p.Severity, p.Check, p.Message)
}

// HasErrors reports whether any problem has SeverityError.
func HasErrors(ps []Problem) bool {
	return slices.ContainsFunc(ps, func(p Problem) bool { return p.Severity == SeverityError })
}

// Strict returns ps with every warning raised to an error, for --strict:
// an operator who wants a clean fleet refuses what would otherwise only
// be shown. Messages say the warning was made fatal.
func Strict(ps []Problem) []Problem {
	out := slices.Clone(ps)
	for i := range out {
		if out[i].Severity == SeverityWarning {
			out[i].Severity = SeverityError
			out[i].Message += " (a warning, refused by --strict)"
		}
	}
	return out
}

// ErrRefused is wrapped by the error Err returns.
var ErrRefused = errors.New("pre-flight refused")

// Err returns nil when ps holds no errors, or an error wrapping ErrRefused
// that lists every error-severity problem, one per line.
func Err(ps []Problem) error {
	var lines []string
	for _, p := range ps {
		if p.Severity == SeverityError {
			lines = append(lines, p.String())
		}
	}
	if len(lines) == 0 {
		return nil
	}
	return fmt.Errorf("%w:\n%s", ErrRefused, strings.Join(lines, "\n"))
}

// Check runs every per-host check of req against f. now is the controller
// clock, used for the clock check only when f has no Sent/Received times.
// Problems come out in a fixed order: facts, os, init, systemd, arch, disk,
// memory, sudo, sftp, forwarding, fetch, ports, clock, nofile.
func Check(f osinfo.Facts, req Requirements, now time.Time) []Problem {
	c := checker{f: f, req: req}
	c.facts()
	c.os()
	c.init()
	c.systemd()
	c.credentials()
	c.arch()
	c.disk()
	c.memory()
	c.sudo()
	c.sftp()
	c.forwarding()
	c.fetch()
	c.ports()
	c.clock(now)
	c.nofile()
	return c.out
}

// CheckFleet runs the checks that compare hosts: machine-id must be unique,
// or journald, D-Bus and anything keyed by it confuse the hosts (cloned
// images). Problems come out sorted by host name, since a map has no order.
func CheckFleet(facts map[string]osinfo.Facts) []Problem {
	byID := map[string][]string{}
	var out []Problem
	hosts := slices.Sorted(maps.Keys(facts))
	for _, h := range hosts {
		id := facts[h].MachineID
		if id == "" {
			out = append(out, Problem{h, CheckMachineID, SeverityWarning,
				"machine-id unknown (" + orDefault(facts[h].Unknown[CheckMachineID], "empty") + "); uniqueness not checked"})
			continue
		}
		byID[id] = append(byID[id], h)
	}
	for _, h := range hosts {
		id := facts[h].MachineID
		same := byID[id]
		if id == "" || len(same) < 2 {
			continue
		}
		others := slices.DeleteFunc(slices.Clone(same), func(o string) bool { return o == h })
		// A warning: a fleet cloned from one VM image often shares one,
		// and the deploy works; journald and D-Bus confusion is the
		// operator's to fix (--strict refuses it).
		out = append(out, Problem{h, CheckMachineID, SeverityWarning, fmt.Sprintf(
			"machine-id %s is also the machine-id of %s (cloned image?); give each host its own: rm /etc/machine-id && systemd-machine-id-setup",
			id, strings.Join(others, ", "))})
	}
	slices.SortStableFunc(out, func(a, b Problem) int { return strings.Compare(a.Host, b.Host) })
	return out
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
