# shellcheck shell=sh
# audit.sh STATEDIR LINE
#
# Appends one line to the app's audit log on this host: who changed what,
# from which release to which, and how it ended. The log is kept to its
# last 1000 lines.
set -eu
mkdir -p -- "$1"
printf '%s\n' "$2" >>"$1/audit.log"
if [ "$(wc -l <"$1/audit.log")" -gt 1000 ]; then
	tail -n 1000 "$1/audit.log" >"$1/audit.log.tmp" && mv -f -- "$1/audit.log.tmp" "$1/audit.log"
fi
