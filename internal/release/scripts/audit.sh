# shellcheck shell=sh
# audit.sh STATEDIR LINE
#
# Appends one line to the app's audit log on this host: who changed what,
# from which release to which, and how it ended. The log is kept to its
# last 1000 lines. The state directory (when made here) is 0700 and the
# log 0600, root's alone, as an older 0644 log is made: who ran what is
# nothing other users of the host need.
set -eu
umask 077
mkdir -p -- "$1"
printf '%s\n' "$2" >>"$1/audit.log"
chmod 0600 "$1/audit.log"
if [ "$(wc -l <"$1/audit.log")" -gt 1000 ]; then
	tail -n 1000 "$1/audit.log" >"$1/audit.log.tmp" && mv -f -- "$1/audit.log.tmp" "$1/audit.log"
fi
