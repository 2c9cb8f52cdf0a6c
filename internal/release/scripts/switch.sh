# shellcheck shell=sh
# switch.sh ROOT ID KEEP [PROTECTED...]
#
# Points <root>/current at release ID (a temp symlink renamed over it, so
# readers see the old or the new target, never none), then prunes: the
# KEEP newest releases stay, and so do ID and every PROTECTED release
# (the previous one, any release an instance still runs). Run after
# own.sh, which records current.
set -eu
root=$1 id=$2 keep=$3
shift 3
own "$root/current" # recorded for uninstall (see own.sh)
ln -sfn "releases/$id" "$root/.current.tmp"
mv -T "$root/.current.tmp" "$root/current"
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
