# shellcheck shell=sh
# prelude.sh, prepended to every lock script: the lock's on-host protocol.
#
# Each script is one constant POSIX sh program run as "sh -c SCRIPT sh
# ARG...": values arrive as positional parameters and stdin, never spliced
# into the text, so no path or user name can change what runs. They rely
# on POSIX tools plus "date +%s" (GNU, BSD and busybox all have it).
#
# A lease is a directory made with mkdir (atomic: exactly one of several
# racing mkdirs succeeds) holding three files:
#   id       the lease's random id, to tell our lease from a successor's
#   expires  the expiry in seconds since the epoch, on the HOST's clock
#   info     JSON for humans: id, user, host, pid, command, acquired, expires
# Expiry is judged on the host's clock against a time the host wrote, so a
# skewed controller clock cannot make a live lease look stale.
#
# umask 077: the lease and the state directory it may create are for root
# (or the login user) alone; the lease names who runs what, and nothing in
# it is for other users. show DIR prints a lease for the controller: the
# host's clock, the expires file (may be empty) and the info JSON (may be
# empty while another run is between its mkdir and its writes).
#
# Exit statuses, named in script.go, each listed by the scripts that use
# it: 75 exitHeld, 3 exitLost, 4 exitNotLocked; 0 is success and any other
# status a failure.
set -u
umask 077
now=$(date +%s) || exit 1
show() {
	printf '%s\n' "$now"
	cat -- "$1/expires" 2>/dev/null || echo
	cat -- "$1/info" 2>/dev/null
	return 0
}
