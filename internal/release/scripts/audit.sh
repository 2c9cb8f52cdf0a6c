# shellcheck shell=sh
# audit.sh STATEDIR LINE [LEDGERLINE...]
#
# Appends one line to the app's audit log on this host: who changed what,
# from which release to which, and how it ended; and the LEDGERLINEs (a
# release built, failed or rolled back by this run) to the app's release
# ledger. Each is kept to its last 1000 lines. The state directory (when
# made here) is 0700 and both files 0600, root's alone, as an older 0644
# log is made: who ran what is nothing other users of the host need.
set -eu
umask 077
statedir=$1
mkdir -p -- "$statedir"
printf '%s\n' "$2" >>"$statedir/audit.log"
chmod 0600 "$statedir/audit.log"
shift 2
if [ $# -gt 0 ]; then
	printf '%s\n' "$@" >>"$statedir/ledger"
fi
for f in "$statedir/audit.log" "$statedir/ledger"; do
	if [ -f "$f" ] && [ "$(wc -l <"$f")" -gt 1000 ]; then
		tail -n 1000 "$f" >"$f.tmp" && mv -f -- "$f.tmp" "$f"
	fi
done
