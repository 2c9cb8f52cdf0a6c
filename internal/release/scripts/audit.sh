# shellcheck shell=sh
# audit.sh STATEDIR LINE [LEDGERLINE...]
#
# Appends one line to the app's audit log on this host: who changed what,
# from which release to which, and how it ended; and the LEDGERLINEs (a
# release built, failed or rolled back by this run) to the app's release
# ledger, readable by root only. Each is kept to its last 1000 lines.
set -eu
statedir=$1
mkdir -p -- "$statedir"
printf '%s\n' "$2" >>"$statedir/audit.log"
shift 2
if [ $# -gt 0 ]; then
	(umask 077 && printf '%s\n' "$@" >>"$statedir/ledger")
fi
for f in "$statedir/audit.log" "$statedir/ledger"; do
	if [ -f "$f" ] && [ "$(wc -l <"$f")" -gt 1000 ]; then
		tail -n 1000 "$f" >"$f.tmp" && mv -f -- "$f.tmp" "$f"
	fi
done
