package layout

import (
	"path"
	"strings"
)

// The app root is the directory the tool creates releases/ and current
// in, and purges. An operator who points it at a system or shared
// directory ("/var/lib", "/home/ops", "/etc/systemd/system") would hand
// the tool a directory that other software lives in. The purge itself
// removes only what the tool recorded creating, but a root is also
// chown'd for the app user's home and listed by gather, so such roots are
// refused outright: at validate (with file:line:col) and again before a
// purge.
//
// deniedRoots are refused as roots themselves; their children are fine
// ("/opt" is refused, "/opt/openim" is the default). Every ancestor of an
// entry is an entry too: a root above a shared directory would own it.
var deniedRoots = map[string]bool{
	"/": true,
	// FHS top levels.
	"/bin": true, "/boot": true, "/dev": true, "/etc": true, "/home": true,
	"/lib": true, "/lib32": true, "/lib64": true, "/libx32": true,
	"/lost+found": true, "/media": true, "/mnt": true, "/opt": true,
	"/proc": true, "/root": true, "/run": true, "/sbin": true, "/snap": true,
	"/srv": true, "/sys": true, "/tmp": true, "/usr": true, "/var": true,
	// Their well-known children.
	"/etc/default": true, "/etc/opt": true, "/etc/ssh": true,
	"/usr/bin": true, "/usr/include": true, "/usr/lib": true, "/usr/lib32": true,
	"/usr/lib64": true, "/usr/libexec": true, "/usr/sbin": true, "/usr/share": true,
	"/usr/src": true, "/usr/local": true, "/usr/local/bin": true,
	"/usr/local/etc": true, "/usr/local/games": true, "/usr/local/include": true,
	"/usr/local/lib": true, "/usr/local/libexec": true, "/usr/local/sbin": true,
	"/usr/local/share": true, "/usr/local/src": true,
	"/var/backups": true, "/var/cache": true, "/var/lib": true, "/var/local": true,
	"/var/lock": true, "/var/log": true, "/var/mail": true, "/var/opt": true,
	"/var/run": true, "/var/spool": true, "/var/tmp": true, "/var/www": true,
}

// deniedTrees are refused with everything under them: the tool's own
// state (locks, records, audit logs of every app), systemd's unit
// directories, package databases, kernel and runtime file systems, and
// temporary directories that systemd-tmpfiles empties behind the tool.
var deniedTrees = []string{
	StateDir,
	"/etc/systemd",
	"/lib/systemd", "/usr/lib/systemd",
	"/var/lib/dpkg", "/var/lib/apt", "/var/lib/rpm", "/var/lib/systemd",
	"/proc", "/sys", "/dev", "/run", "/boot",
	"/tmp", "/var/tmp",
}

// RootRefusal says why root may not be an app root, or "" when it may.
// root is cleaned first, so "/var//lib/" and "/var/lib/." are "/var/lib".
// Refused: "/" and the FHS top levels, their well-known children
// ("/var/lib", "/var/log", "/usr/local", "/etc/systemd"), home
// directories ("/home/X", "/root"), and anything under the tool's state
// directory, systemd's unit directories, package databases, /proc, /sys,
// /dev, /run, /boot, /tmp and /var/tmp. A relative root is refused too.
func RootRefusal(root string) string {
	if !path.IsAbs(root) {
		return "not an absolute path"
	}
	clean := path.Clean(root)
	for _, tree := range deniedTrees {
		if clean == tree || strings.HasPrefix(clean, tree+"/") {
			if tree == clean {
				return "a system directory"
			}
			return "under " + tree + ", a system directory"
		}
	}
	if deniedRoots[clean] {
		if clean == "/" {
			return "the root directory"
		}
		return "a system or shared directory"
	}
	if dir, _ := path.Split(clean); dir == "/home/" {
		return "a home directory"
	}
	return ""
}
