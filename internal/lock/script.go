package lock

// The scripts below are the whole on-host protocol. Each is one constant
// POSIX sh program run as "sh -c SCRIPT sh ARG...": values arrive as
// positional parameters and stdin, never spliced into the text, so no
// path or user name can change what runs. They rely on POSIX tools plus
// "date +%s" (GNU, BSD and busybox all have it).
//
// A lease is a directory made with mkdir (atomic: exactly one of several
// racing mkdirs succeeds) holding three files:
//
//	id       the lease's random id, to tell our lease from a successor's
//	expires  the expiry in seconds since the epoch, on the HOST's clock
//	info     JSON for humans: id, user, host, pid, command, acquired, expires
//
// Expiry is judged on the host's clock against a time the host wrote, so a
// skewed controller clock cannot make a live lease look stale.
//
// Exit statuses: 0 ok, 75 held by someone else (EX_TEMPFAIL), 3 not our
// lease (lost), 4 no lease; anything else is a failure.

const (
	exitHeld      = 75
	exitLost      = 3
	exitNotLocked = 4
)

// prelude starts every script. umask 077: the lease and the state
// directory it may create are for root (or the login user) alone; the
// lease names who runs what, and nothing in it is for other users.
// show prints a lease for the controller:
// the host's clock, the expires file (may be empty) and the info JSON
// (may be empty while another run is between its mkdir and its writes).
const prelude = `set -u
umask 077
now=$(date +%s) || exit 1
show() {
	printf '%s\n' "$now"
	cat -- "$1/expires" 2>/dev/null || echo
	cat -- "$1/info" 2>/dev/null
	return 0
}
`

// acquireScript: $1 lease dir, $2 TTL in seconds, $3 new lease id; stdin
// is the info JSON without its closing brace, to which the host's
// acquired and expires times are appended.
//
// A lease is stale when the host's clock is past its expiry. Takers of a
// stale lease are serialised by a second mkdir lock next to it
// ("<dir>.takeover"): without it a slow taker could rename away the fresh
// lease a faster one had just made. Inside, the taker judges staleness
// again, renames the lease to a tombstone named after its own id, checks
// that what it moved is the lease it judged (or puts it back), removes
// it, and retries the mkdir.
//
// A directory without an expires file belongs to a run between its mkdir
// and its first write, or to one killed right there; it counts as held
// until 60 s after its mtime, so a live acquire is never stolen and a dead
// one does not block forever. The takeover lock, held for microseconds
// and removed on exit, gets the same 60 s treatment.
const acquireScript = prelude + `dir=$1 ttl=$2 id=$3
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
`

// refreshScript: $1 lease dir, $2 our id, $3 TTL in seconds. It extends
// the lease only while the id is still ours, writing the new expiry next
// to the old one and renaming it into place so readers never see a
// half-written number.
const refreshScript = prelude + `dir=$1 id=$2 ttl=$3
got=''; { IFS= read -r got <"$dir/id"; } 2>/dev/null
[ "$got" = "$id" ] || exit 3
printf '%s\n' "$((now + ttl))" >"$dir/expires.$id" &&
	mv -f -- "$dir/expires.$id" "$dir/expires" || exit 1
`

// releaseScript: $1 lease dir, $2 our id. The lease is renamed away
// first, so it disappears at once rather than file by file (a half-removed
// lease would look like an unfinished acquire), and removed only if what
// was renamed is ours; otherwise it is put back.
const releaseScript = prelude + `dir=$1 id=$2
got=''; { IFS= read -r got <"$dir/id"; } 2>/dev/null
[ "$got" = "$id" ] || exit 3
gone=$dir.released.$id
mv -- "$dir" "$gone" || exit 1
got=''; { IFS= read -r got <"$gone/id"; } 2>/dev/null
if [ "$got" != "$id" ]; then
	[ -e "$dir" ] || mv -- "$gone" "$dir"
	exit 3
fi
rm -rf -- "$gone"
`

// breakScript: $1 lease dir. Prints the lease it removes, whoever holds it.
const breakScript = prelude + `dir=$1
[ -d "$dir" ] || exit 4
show "$dir"
gone=$dir.broken.$$
mv -- "$dir" "$gone" || exit 1
rm -rf -- "$gone"
`

// readScript: $1 lease dir. Prints the lease, if any.
const readScript = prelude + `dir=$1
[ -d "$dir" ] || exit 4
show "$dir"
`
