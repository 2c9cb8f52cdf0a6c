package config

import (
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Unit names the operating system's own units use. A service, task or app
// whose unit has one of these names would install a unit file in
// /etc/systemd/system that shadows the system's unit of the same name
// (systemd reads /etc before /lib), and the apply would then restart it:
// task "ssh" writes ssh.service over sshd and locks the operator out
// mid-run; service "getty" replaces getty@.service, app "multi-user"
// replaces multi-user.target. Each kind is checked against the names of
// the units it installs: a service x installs the template x@.service, a
// task x the unit x.service, the app x the target x.target.
//
// docs/configuration.md ("Reserved names") lists the same names; keep the
// two in step.
var (
	// reservedTemplates are system template units, by the name a service
	// would need to shadow them (user for user@.service).
	reservedTemplates = words(`
		getty serial-getty container-getty autovt user user-runtime-dir
		ssh sshd modprobe ifup ifdown capsule`)
	// reservedServices are system services, by the name a task would need
	// to shadow them (ssh for ssh.service).
	reservedServices = words(`
		ssh sshd ssh-agent getty-static console-getty debug-shell
		init systemd dbus dbus-broker polkit udev kmod emergency rescue
		cron crond anacron atd rsyslog syslog journald
		networking NetworkManager network-manager ifupdown-pre
		chrony chronyd ntp ntpd ntpsec nftables iptables ufw firewalld
		apt-daily apt-daily-upgrade unattended-upgrades e2scrub_all fstrim
		logrotate man-db dpkg-db-backup`)
	// reservedTargets are systemd's standard targets (systemd.special(7)),
	// by the name an app would need to shadow them.
	reservedTargets = words(`
		default multi-user graphical rescue emergency basic sysinit
		sockets timers paths slices getty getty-pre
		network network-online network-pre local-fs local-fs-pre remote-fs remote-fs-pre
		nss-lookup nss-user-lookup time-set time-sync
		shutdown reboot poweroff halt kexec exit final umount swap
		sleep suspend hibernate hybrid-sleep suspend-then-hibernate
		ctrl-alt-del sigpwr system-update system-update-pre
		cryptsetup cryptsetup-pre remote-cryptsetup veritysetup integritysetup
		initrd initrd-fs initrd-root-fs initrd-root-device initrd-switch-root initrd-usr-fs
		first-boot-complete factory-reset machines sound bluetooth printer smartcard
		rpcbind usb-gadget storage-target-mode user`)
)

// reservedUnitPrefixes are families of system units, reserved for every
// kind: everything systemd ships is named systemd-*, and dbus-org.* are
// the aliases D-Bus activates services through
// (dbus-org.freedesktop.login1.service is logind).
var reservedUnitPrefixes = []string{"systemd-", "dbus-org."}

// words turns a blank-separated list into a set.
func words(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

// reservedUnit returns the system unit a service, task or app named name
// would shadow, or "".
func reservedUnit(kind, name string) string {
	unit, set := name+".service", reservedServices
	switch kind {
	case "service":
		unit, set = name+"@.service", reservedTemplates
	case "app":
		unit, set = name+".target", reservedTargets
	}
	if set[name] {
		return unit
	}
	for _, p := range reservedUnitPrefixes {
		if strings.HasPrefix(name, p) {
			return unit
		}
	}
	return ""
}

// checkReservedUnitName refuses a service, task or app name whose unit
// would shadow or overwrite a unit of the system. r is the name's range.
func (l *loader) checkReservedUnitName(r, ctx hcl.Range, kind, name string) {
	unit := reservedUnit(kind, name)
	if unit == "" {
		return
	}
	l.errorf(r, ctx, "Reserved "+kind+" name",
		"The %s name %q would install %s in /etc/systemd/system, where it shadows or overwrites the system's own unit of that name; an apply would then restart it. Choose another name; docs/configuration.md lists the reserved names.",
		kind, name, unit)
}
