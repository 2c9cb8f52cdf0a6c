package config

import (
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// reservedUnitNames are names the operating system's own units use. A
// service, task or app named after one would install a unit file in
// /etc/systemd/system that shadows the system's unit of the same name
// (systemd reads /etc before /lib), and the apply would then restart it:
// task "ssh" writes ssh.service over sshd and locks the operator out
// mid-run; service "getty" replaces getty@.service, app "multi-user"
// replaces multi-user.target. The check is by base name, whatever the
// kind, so a name is either free for every kind or for none.
//
// docs/configuration.md ("Reserved names") lists the same names; keep the
// two in step.
var reservedUnitNames = map[string]bool{
	// Remote access and logins: losing these locks the operator out.
	"ssh": true, "sshd": true, "ssh-agent": true,
	"getty": true, "serial-getty": true, "container-getty": true, "console-getty": true,
	"autovt": true, "getty-pre": true, "login": true,
	"user": true, "user-runtime-dir": true,
	// Process 1, the bus and device managers.
	"init": true, "systemd": true, "dbus": true, "dbus-broker": true, "polkit": true,
	"udev": true, "kmod": true, "modprobe": true,
	// Scheduling, logging, time and network daemons every host depends on.
	"cron": true, "crond": true, "anacron": true, "atd": true,
	"rsyslog": true, "syslog": true, "journald": true,
	"networking": true, "NetworkManager": true, "network-manager": true, "ifup": true,
	"chrony": true, "chronyd": true, "ntp": true, "ntpd": true,
	"nftables": true, "iptables": true, "ufw": true, "firewalld": true,
	"apt-daily": true, "apt-daily-upgrade": true, "unattended-upgrades": true,
	// systemd's standard targets (systemd.special(7)).
	"default": true, "multi-user": true, "graphical": true, "rescue": true, "emergency": true,
	"basic": true, "sysinit": true, "sockets": true, "timers": true, "paths": true, "slices": true,
	"network": true, "network-online": true, "network-pre": true,
	"local-fs": true, "local-fs-pre": true, "remote-fs": true, "remote-fs-pre": true,
	"nss-lookup": true, "nss-user-lookup": true, "time-set": true, "time-sync": true,
	"shutdown": true, "reboot": true, "poweroff": true, "halt": true, "kexec": true,
	"exit": true, "final": true, "umount": true, "swap": true, "sleep": true,
	"suspend": true, "hibernate": true, "hybrid-sleep": true, "suspend-then-hibernate": true,
	"ctrl-alt-del": true, "sigpwr": true, "system-update": true, "system-update-pre": true,
	"cryptsetup": true, "cryptsetup-pre": true, "remote-cryptsetup": true,
	"initrd": true, "initrd-fs": true, "initrd-root-fs": true, "initrd-root-device": true,
	"initrd-switch-root": true, "first-boot-complete": true, "factory-reset": true,
	"machines": true, "sound": true, "bluetooth": true, "printer": true, "smartcard": true,
	"rpcbind": true, "usb-gadget": true, "veritysetup": true, "integritysetup": true,
}

// reservedUnitPrefixes are families of system units: everything systemd
// ships is named systemd-*, and dbus-org.* are the aliases D-Bus activates
// services through (dbus-org.freedesktop.login1.service is logind).
var reservedUnitPrefixes = []string{"systemd-", "dbus-org."}

// reservedUnitName reports whether name, as a service, task or app name,
// would give a unit the name of one of the system's own.
func reservedUnitName(name string) bool {
	if reservedUnitNames[name] {
		return true
	}
	for _, p := range reservedUnitPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// unitFilesOf names the unit files a name of kind installs, for messages.
func unitFilesOf(kind, name string) string {
	switch kind {
	case "service":
		return name + "@.service (and " + name + "@<instance>.service)"
	case "app":
		return name + ".target"
	default:
		return name + ".service"
	}
}

// checkReservedUnitName refuses a service, task or app name whose units
// would shadow or overwrite a unit of the system. r is the name's range.
func (l *loader) checkReservedUnitName(r, ctx hcl.Range, kind, name string) {
	if !reservedUnitName(name) {
		return
	}
	l.errorf(r, ctx, "Reserved "+kind+" name",
		"The %s name %q would install %s in /etc/systemd/system, where it shadows or overwrites a unit of the system itself (ssh, getty, user, dbus, systemd-*, the standard targets...); an apply would then restart it. Choose another name; docs/configuration.md lists the reserved names.",
		kind, name, unitFilesOf(kind, name))
}
