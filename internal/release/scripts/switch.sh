# shellcheck shell=sh
# switch.sh ROOT ID KEEP STATEDIR LEDGERLINE [PROTECTED...]
#
# Points <root>/current at release ID (a temp symlink renamed over it, so
# readers see the old or the new target, never none), appends LEDGERLINE
# ("... current ID ...") to the app's release ledger in STATEDIR, readable
# by root only and kept to its last 1000 lines, then prunes: the KEEP
# newest releases stay, and so do ID and every PROTECTED release (the
# previous one, any release an instance still runs or a drop-in pins). Run
# after own.sh, which records current.
set -eu
root=$1 id=$2 keep=$3 statedir=$4 line=$5
shift 5
own "$root/current" # recorded for uninstall (see own.sh)
ln -sfn "releases/$id" "$root/.current.tmp"
mv -T "$root/.current.tmp" "$root/current"
(
	umask 077
	mkdir -p -- "$statedir"
	printf '%s\n' "$line" >>"$statedir/ledger"
	if [ "$(wc -l <"$statedir/ledger")" -gt 1000 ]; then
		tail -n 1000 "$statedir/ledger" >"$statedir/ledger.tmp" && mv -f -- "$statedir/ledger.tmp" "$statedir/ledger"
	fi
)
cd "$root/releases"
n=0
# Release ids are made of [0-9A-Za-z.-]: word splitting is safe here.
for d in $(printf '%s\n' * | sort -r); do
	[ -d "$d" ] || continue
	n=$((n + 1))
	[ "$n" -le "$keep" ] && continue
	[ "$d" = "$id" ] && continue
	keepit=
	for p in "$@"; do
		if [ "$d" = "$p" ]; then keepit=1; fi
	done
	[ -n "$keepit" ] || rm -rf -- "$d"
done
exit 0
