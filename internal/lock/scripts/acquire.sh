# shellcheck shell=sh
# acquire.sh DIR TTL ID < INFO
#
# Takes the lease DIR for TTL seconds under the new lease id ID. INFO, on
# stdin, is the info JSON without its closing brace, to which the host's
# acquired and expires times are appended. Prints how it was taken
# ("acquired" or "took-over"), the host's clock and the expiry, then, after
# a takeover, the stale lease it replaced (as show prints it).
#
# A lease is stale when the host's clock is past its expiry. Takers of a
# stale lease are serialised by a second mkdir lock next to it
# ("DIR.takeover"): without it a slow taker could rename away the fresh
# lease a faster one had just made. Inside, the taker judges staleness
# again, renames the lease to a tombstone named after its own id, checks
# that what it moved is the lease it judged (or puts it back), removes
# it, and retries the mkdir.
#
# A directory without an expires file belongs to a run between its mkdir
# and its first write, or to one killed right there; it counts as held
# until 60 s after its mtime, so a live acquire is never stolen and a dead
# one does not block forever. The takeover lock, held for microseconds
# and removed on exit, gets the same 60 s treatment.
#
# Exit statuses (named in script.go):
#   75 exitHeld  someone else holds a live lease (EX_TEMPFAIL): it is
#                printed, as show prints it
# Any other non-zero status is a failure; nothing was taken.
# shellcheck disable=SC2154 # now is prelude.sh's, prepended
dir=$1 ttl=$2 id=$3
IFS= read -r info || [ -n "$info" ] || exit 1
parent=${dir%/*}
mkdir -p -- "${parent:-/}" || exit 1
take() {
	mkdir -- "$dir" 2>/dev/null || return 1
	exp=$((now + ttl))
	if printf '%s\n' "$exp" >"$dir/expires" &&
		printf '%s\n' "$id" >"$dir/id" &&
		printf '%s"acquired":%s,"expires":%s}\n' "$info" "$now" "$exp" >"$dir/info"; then
		printf '%s\n%s\n%s\n' "$1" "$now" "$exp"
		return 0
	fi
	rm -rf -- "$dir"
	exit 1
}
stale() {
	exp=''; { IFS= read -r exp <"$dir/expires"; } 2>/dev/null
	old=''; { IFS= read -r old <"$dir/id"; } 2>/dev/null
	case $exp in
	'' | *[!0-9]*)
		m=$(date -r "$dir" +%s 2>/dev/null) || m=$now
		exp=$((m + 60))
		;;
	esac
	[ "$now" -gt "$exp" ]
}
held() {
	take acquired && exit 0
	show "$dir"
	exit 75
}
take acquired && exit 0
stale || held
mu=$dir.takeover
if ! mkdir -- "$mu" 2>/dev/null; then
	m=$(date -r "$mu" +%s 2>/dev/null) || m=$now
	[ "$now" -le $((m + 60)) ] || rmdir -- "$mu" 2>/dev/null
	show "$dir"
	exit 75
fi
trap 'rmdir -- "$mu" 2>/dev/null' EXIT
stale || held
tomb=$dir.stale.$id
mv -- "$dir" "$tomb" 2>/dev/null || held
got=''; { IFS= read -r got <"$tomb/id"; } 2>/dev/null
if [ "$got" != "$old" ]; then
	[ -e "$dir" ] || mv -- "$tomb" "$dir"
	held
fi
prev=$(show "$tomb")
rm -rf -- "$tomb"
take took-over || held
printf '%s\n' "$prev"
