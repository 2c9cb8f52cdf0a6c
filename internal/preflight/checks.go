package preflight

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/openimsdk/openim-deploy/internal/osinfo"
	"github.com/openimsdk/openim-deploy/internal/probe"
)

// checker collects the problems of one host.
type checker struct {
	f   osinfo.Facts
	req Requirements
	out []Problem
}

func (c *checker) add(check string, sev Severity, format string, args ...any) {
	c.out = append(c.out, Problem{Host: c.f.Host, Check: check, Severity: sev, Message: fmt.Sprintf(format, args...)})
}

// unknown reports a fact that could not be measured as a warning and says
// whether it was missing.
func (c *checker) unknown(section, check, what string) bool {
	reason, bad := c.f.Unknown[section]
	if bad {
		c.add(check, SeverityWarning, "%s not checked: %s unknown (%s)", what, section, reason)
	}
	return bad
}

func (c *checker) facts() {
	if !c.f.Known("end") {
		c.add(CheckFacts, SeverityWarning, "fact gathering output was cut short; later checks may be incomplete")
	}
}

func (c *checker) os() {
	if c.unknown("os", CheckOS, "distribution") {
		return
	}
	if c.f.OS.Family == osinfo.FamilyUnknown {
		c.add(CheckOS, SeverityWarning, "distribution %q (ID=%s) is not one openim-deploy is tested on", c.f.OS.PrettyName, c.f.OS.ID)
	}
}

func (c *checker) init() {
	if c.f.Init == osinfo.InitSystemd {
		return
	}
	name := c.f.Init
	if name == "" {
		name = osinfo.InitUnknown
	}
	ev := c.f.InitEvidence
	if r, bad := c.f.Unknown["init"]; bad {
		ev = r
	}
	c.add(CheckInit, SeverityError, "init system is %s; openim-deploy needs systemd (%s)", name, orDefault(ev, "no /run/systemd/system"))
}

func (c *checker) systemd() {
	if c.f.Init != osinfo.InitSystemd {
		return // already refused by init
	}
	if c.unknown("systemd", CheckSystemd, "systemd version") {
		return
	}
	oldest := c.req.MinSystemd
	if oldest == 0 {
		oldest = DefaultMinSystemd
	}
	v := c.f.SystemdVersion
	switch {
	case v < oldest:
		c.add(CheckSystemd, SeverityError, "systemd %d is older than %d, the oldest supported", v, oldest)
	case v < RecommendedSystemd:
		c.add(CheckSystemd, SeverityWarning, "systemd %d is older than %d: some unit settings (StartLimitIntervalSec= in [Unit]) may be ignored, so crash loops may not be rate-limited", v, RecommendedSystemd)
	}
}

// credentials judges whether the host's secrets can be delivered as
// systemd credentials (secret_delivery).
func (c *checker) credentials() {
	if c.req.Credentials == CredsNone || c.f.Init != osinfo.InitSystemd || SupportsCredentials(c.f) {
		return
	}
	v := fmt.Sprintf("systemd %d", c.f.SystemdVersion)
	if !c.f.Known("systemd") {
		v = "systemd of unknown version"
	}
	if c.req.Credentials == CredsRequired {
		c.add(CheckCreds, SeverityError, "%s has no encrypted credentials (systemd-creds, %d or newer) and the playbook says secret_delivery = \"credential\"", v, CredentialsSystemd)
		return
	}
	c.add(CheckCreds, SeverityWarning, "%s has no encrypted credentials (systemd-creds, %d or newer): this host's secrets are delivered as 0600 root files, in plain text on its disk (secret_delivery = \"file\" says so and silences this)", v, CredentialsSystemd)
}

func (c *checker) arch() {
	if c.req.ReadinessProbe && c.f.Arch != "" && !probe.Supports(c.f.Arch) {
		c.add(CheckArch, SeverityError, "no readiness probe is built for %s (%s), and units on this host wait for their health check: set health { unit_wait = false } on the services placed here", c.f.Machine, c.f.Arch)
	}
	if len(c.req.Binaries) == 0 {
		return
	}
	host := c.f.Arch
	if host == "" {
		if !c.unknown("uname", CheckArch, "binary architecture") {
			c.add(CheckArch, SeverityWarning, "binary architecture not checked: machine %q has no GOARCH name", c.f.Machine)
		}
	}
	for _, b := range c.req.Binaries {
		switch b.Format {
		case FormatELF:
			if host == "" {
				continue
			}
			if b.Arch != host {
				c.add(CheckArch, SeverityError, "%s is an ELF binary for %s; host is %s (%s)",
					b.Path, orDefault(b.Arch, b.Machine), c.f.Machine, host)
				continue
			}
			if c.f.OS.Family == osinfo.FamilyAlpine && strings.Contains(b.Interp, "ld-linux") {
				c.add(CheckArch, SeverityWarning, "%s is linked against glibc (interpreter %s); Alpine has musl: build with CGO_ENABLED=0", b.Path, b.Interp)
			}
		case FormatScript:
			c.add(CheckArch, SeverityWarning, "%s is a script, not an ELF binary: its interpreter must exist on the host", b.Path)
		case FormatMachO:
			c.add(CheckArch, SeverityError, "%s is a macOS (Mach-O) executable; build it with GOOS=linux GOARCH=%s", b.Path, orDefault(host, "<host arch>"))
		case FormatPE:
			c.add(CheckArch, SeverityError, "%s is a Windows (PE) executable; build it with GOOS=linux GOARCH=%s", b.Path, orDefault(host, "<host arch>"))
		default:
			c.add(CheckArch, SeverityWarning, "%s is not an ELF binary or a script; it may not run on the host", b.Path)
		}
	}
}

func (c *checker) disk() {
	var bins int64
	for _, b := range c.req.Binaries {
		bins += b.Size
	}
	if bins == 0 && c.req.ExtraBytes == 0 {
		return
	}
	if c.unknown("disk", CheckDisk, "free disk") {
		return
	}
	where := orDefault(c.req.Root, c.f.DiskPath)
	if c.req.Root != "" && c.f.DiskPath != c.req.Root {
		c.add(CheckDisk, SeverityWarning, "free disk was measured under %s, not under the app root %s", c.f.DiskPath, c.req.Root)
	}
	// Twice the binaries: the previous release is kept for rollback, and an
	// upload needs a temp file beside the file it replaces.
	need := 2*bins + c.req.ExtraBytes + DiskMargin
	if c.f.DiskAvailable < need {
		c.add(CheckDisk, SeverityError, "%s free under %s (filesystem %s); a release needs %s (2 × %s of binaries + %s of files + %s margin)",
			bytesString(c.f.DiskAvailable), where, c.f.DiskMount, bytesString(need),
			bytesString(bins), bytesString(c.req.ExtraBytes), bytesString(DiskMargin))
	}
}

func (c *checker) memory() {
	need := c.req.MinFreeMemory
	if need < 0 {
		return
	}
	if need == 0 {
		need = DefaultMinFreeMemory
	}
	if c.unknown("memory", CheckMemory, "free memory") {
		return
	}
	if c.f.MemAvailable < need {
		c.add(CheckMemory, SeverityError, "%s of memory available (MemAvailable, of %s); at least %s is needed",
			bytesString(c.f.MemAvailable), bytesString(c.f.MemTotal), bytesString(need))
	}
}

func (c *checker) sudo() {
	if !c.req.NeedSudo || c.f.Sudo == osinfo.SudoRoot || c.f.Sudo == osinfo.SudoOK {
		return
	}
	if c.unknown("sudo", CheckSudo, "sudo") {
		return
	}
	msg := fmt.Sprintf("sudo -n fails for %s (%s)", orDefault(c.f.User, "the login user"), c.f.Sudo)
	if c.f.SudoDetail != "" {
		msg += ": " + c.f.SudoDetail
	}
	switch c.f.Sudo {
	case osinfo.SudoPassword:
		msg += "; configure NOPASSWD for this user or log in as root"
	case osinfo.SudoMissing:
		msg += "; install sudo or log in as root"
	}
	c.add(CheckSudo, SeverityError, "%s", msg)
}

func (c *checker) sftp() {
	if c.f.SFTPChecked && c.f.SFTPError != "" {
		c.add(CheckSFTP, SeverityError, "SFTP subsystem unavailable: %s (enable \"Subsystem sftp\" in sshd_config)", c.f.SFTPError)
	}
}

// forwarding warns when sshd refuses TCP forwarding and the host has tcp or
// http probes: they still work, through a relay the transport runs on the
// host (bash's /dev/tcp), so the operator should know where they run.
func (c *checker) forwarding() {
	if !c.f.ForwardingChecked || c.f.ForwardingError == "" || !c.req.NetworkProbes {
		return
	}
	c.add(CheckForward, SeverityWarning, "%s: tcp/http health probes will run through a relay on the host (needs bash)", c.f.ForwardingError)
}

// fetch refuses a host that must fetch an artifact itself without a tool
// to fetch it with: curl or wget, and curl when the artifact needs
// credentials (wget takes a header only on its command line, where every
// user of the host sees it, or from a file).
func (c *checker) fetch() {
	if len(c.req.Fetch) == 0 || c.f.Curl != "" {
		return
	}
	if c.f.Wget == "" {
		c.add(CheckFetch, SeverityError, "neither curl nor wget found: the host fetches %s itself (artifact() in the playbook); install curl or wget",
			urlList(c.req.Fetch))
		return
	}
	if len(c.req.FetchAuth) > 0 {
		c.add(CheckFetch, SeverityError, "curl not found: the host fetches %s with credentials, which only curl takes on stdin (wget would need them on its command line or in a file); install curl",
			urlList(c.req.FetchAuth))
	}
}

// urlList names the first URL and how many more there are.
func urlList(urls []string) string {
	if len(urls) == 1 {
		return urls[0]
	}
	return fmt.Sprintf("%s and %d more", urls[0], len(urls)-1)
}

func (c *checker) ports() {
	if len(c.req.Ports) == 0 || c.unknown("listen", CheckPorts, "ports") {
		return
	}
	seen := map[int]bool{}
	for _, p := range c.req.Ports {
		if seen[p] || c.req.OwnedPorts[p] {
			continue
		}
		seen[p] = true
		ls := c.f.ListeningOn(p)
		if len(ls) == 0 {
			continue
		}
		var at []string
		for _, l := range ls {
			at = append(at, netip.AddrPortFrom(l.Addr, uint16(l.Port)).String())
		}
		c.add(CheckPorts, SeverityError, "port %d is already in use (listening on %s) by a process this deployment does not own",
			p, strings.Join(at, ", "))
	}
}

func (c *checker) clock(now time.Time) {
	if c.unknown("clock", CheckClock, "clock") || c.f.HostTime.IsZero() {
		return
	}
	limit := c.req.MaxClockSkew
	if limit == 0 {
		limit = DefaultMaxClockSkew
	}
	skew := ClockSkew(c.f.HostTime, c.f.Sent, c.f.Received, now)
	if skew > limit || -skew > limit {
		dir, d := "ahead of", skew
		if skew < 0 {
			dir, d = "behind", -skew
		}
		// Under RefuseClockSkew the deploy itself works (leases are timed
		// on the host's own clock); logs and certificates are the
		// operator's concern, so it warns. Past it, lock expiry and TLS
		// start to misbehave: refuse.
		sev, allowed := SeverityWarning, fmt.Sprintf("warned above %s, refused from %s", limit, RefuseClockSkew)
		if d >= RefuseClockSkew {
			sev = SeverityError
		}
		c.add(CheckClock, sev, "clock is at least %s %s the controller's (host says %s); %s; enable NTP (timedatectl set-ntp true)",
			d.Round(time.Second), dir, c.f.HostTime.UTC().Format(time.RFC3339), allowed)
	}
}

// ClockSkew returns the smallest offset of the host clock from the
// controller's that fits the measurement: the host printed hostTime (whole
// seconds, truncated, so its clock read within [hostTime, hostTime+1s))
// somewhere between sent and received on the controller's clock. Zero means
// the clocks may agree. When sent or received is zero, now stands for both.
func ClockSkew(hostTime, sent, received, now time.Time) time.Duration {
	if sent.IsZero() || received.IsZero() {
		sent, received = now, now
	}
	if received.Before(sent) {
		sent, received = received, sent
	}
	lo := hostTime.Sub(received)              // host is at least this far ahead
	hi := hostTime.Add(time.Second).Sub(sent) // and at most this far ahead
	switch {
	case lo > 0:
		return lo
	case hi < 0:
		return hi
	}
	return 0
}

func (c *checker) nofile() {
	if c.req.MinNofile <= 0 || c.unknown("nofile", CheckNofile, "nofile limit") {
		return
	}
	if c.f.NrOpen < int64(c.req.MinNofile) {
		// A warning, as the severity table says: the limit is
		// the operator's to raise, and --strict refuses it.
		c.add(CheckNofile, SeverityWarning, "services need LimitNOFILE=%d but fs.nr_open is %d, the most any process may have; raise it (sysctl fs.nr_open=%d)",
			c.req.MinNofile, c.f.NrOpen, c.req.MinNofile)
	}
}

// bytesString renders n bytes in binary units: "512 B", "1.5 GiB".
func bytesString(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), 0
	for v >= unit*unit || v <= -unit*unit {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v/unit, "KMGTPE"[i])
}
