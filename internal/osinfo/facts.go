package osinfo

import (
	"net/netip"
	"time"
)

// InitSystem names the service manager running as PID 1.
type InitSystem string

// Init systems Detect tells apart.
const (
	InitSystemd InitSystem = "systemd"
	InitOpenRC  InitSystem = "openrc"
	InitSysV    InitSystem = "sysvinit"
	InitUnknown InitSystem = "unknown"
)

// SudoStatus says whether the login user can run "sudo -n".
type SudoStatus string

// Outcomes of the sudo probe.
const (
	SudoRoot     SudoStatus = "root"     // the login user is root: sudo not needed
	SudoOK       SudoStatus = "ok"       // sudo -n true succeeded
	SudoPassword SudoStatus = "password" // sudo wants a password (no NOPASSWD)
	SudoMissing  SudoStatus = "missing"  // no sudo binary
	SudoFailed   SudoStatus = "failed"   // any other refusal (requiretty, not in sudoers)
)

// Listener is one TCP socket in LISTEN state.
type Listener struct {
	Addr netip.Addr // 0.0.0.0 or :: for a wildcard bind
	Port int
}

// Facts is everything Detect learned about one host. Sections that could not
// be measured are listed in Unknown with the reason, and their fields keep
// their zero values; checks must consult Unknown before trusting a zero.
type Facts struct {
	Host string // target name

	OS       OS
	Kernel   string // uname -r
	Machine  string // uname -m: "x86_64"
	Arch     string // Machine as GOARCH: "amd64"; "" when unmapped
	Hostname string // uname -n

	Init InitSystem
	// InitEvidence says what Init was decided from, for messages:
	// "no /run/systemd/system; /etc/inittab present; PID 1 is init".
	InitEvidence string
	// SystemdVersion is the number from "systemctl --version" ("systemd 252
	// (252.22-1~deb12u1)" gives 252); 0 when unknown. SystemdVersionLine is
	// that first line as printed.
	SystemdVersion     int
	SystemdVersionLine string

	MachineID string // /etc/machine-id, "" when missing or uninitialized

	// HostTime is the host's clock (date +%s, whole seconds). Sent and
	// Received are the controller's clock just before the command was sent
	// and just after its output came back: the host read its clock somewhere
	// in between.
	HostTime time.Time
	Sent     time.Time
	Received time.Time

	MemTotal     int64 // bytes
	MemAvailable int64 // bytes; MemFree+Buffers+Cached on kernels without MemAvailable

	NofileSoft int64 // ulimit -n of the login shell
	NofileHard int64 // ulimit -Hn
	NrOpen     int64 // /proc/sys/fs/nr_open: the ceiling for any LimitNOFILE=

	User string // id -un
	UID  int    // id -u
	Sudo SudoStatus
	// SudoDetail is what sudo printed when it refused.
	SudoDetail string

	// SFTPChecked and SFTPError are filled by the transport, not by Detect:
	// whether the SFTP subsystem was probed, and why it failed if it did.
	SFTPChecked bool
	SFTPError   string
	// ForwardingChecked and ForwardingError are filled by the transport
	// too: ForwardingError is set when sshd refuses TCP forwarding
	// (AllowTcpForwarding no).
	ForwardingChecked bool
	ForwardingError   string

	Listeners []Listener // in /proc/net/tcp then tcp6 order

	DiskPath      string // the path asked about
	DiskMeasured  string // its nearest existing ancestor, given to df
	DiskMount     string // the mount point holding it
	DiskAvailable int64  // bytes available to unprivileged users
	DiskTotal     int64  // bytes

	// Gzip is where the host's gzip is ("command -v gzip"), "" when it
	// has none: compressed uploads need it to decompress.
	Gzip string
	// Curl and Wget are where the host's curl and wget are, "" for none:
	// a binary the playbook names by artifact() is fetched by the host
	// itself, with curl (preferred, and the only one that takes
	// credentials on stdin) or wget.
	Curl string
	Wget string

	// UnitShow is "systemctl show -p Id,ActiveState" of Options.Units,
	// one record per unit in their order; nil when none were asked for.
	UnitShow []byte

	// Unknown maps a section name ("os", "uname", "init", "systemd",
	// "machine-id", "clock", "memory", "nofile", "user", "sudo", "listen",
	// "disk") to why it could not be read.
	Unknown map[string]string
}

// Known reports whether section was measured.
func (f Facts) Known(section string) bool {
	_, bad := f.Unknown[section]
	return !bad
}

// ListeningOn returns the listeners bound to port, on any address.
func (f Facts) ListeningOn(port int) []Listener {
	var out []Listener
	for _, l := range f.Listeners {
		if l.Port == port {
			out = append(out, l)
		}
	}
	return out
}
