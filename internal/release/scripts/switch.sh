# shellcheck shell=sh
# switch.sh ROOT ID KEEP LEDGERLINE UNITDIR [PROTECTED...] [::retire RETIRED...]
#
# Points <root>/current at release ID (a temp symlink renamed over it, so
# readers see the old or the new target, never none), appends LEDGERLINE
# ("... current ID ...") to the app's release ledger, root's alone, beside
# own.sh's record in the app's state directory (audit.sh, which runs as the
# lock is released, keeps it to its last 1000 lines), then prunes: the KEEP
# newest releases stay, and so do ID and every PROTECTED release (the
# previous one, any release an instance still runs or a drop-in pins). Run
# after own.sh, which records current and makes the state directory.
#
# Every RETIRED release is removed whole, whatever KEEP and PROTECTED say,
# unless a drop-in in UNITDIR still pins it: the controller's plan names
# the releases that hold secrets in plain text once the host takes them as
# encrypted credentials (file delivery's env files and sensitive
# templates, found by their manifests). Its line stays in the ledger;
# rollback then says it is no longer on the host.
set -eu
root=$1 id=$2 keep=$3 line=$4 unitdir=$5
shift 5
own "$root/current" # recorded for uninstall (see own.sh)
ln -sfn "releases/$id" "$root/.current.tmp"
mv -T "$root/.current.tmp" "$root/current"
# shellcheck disable=SC2154 # owned_record is own.sh's, prepended
(umask 077 && printf '%s\n' "$line" >>"${owned_record%/*}/ledger")
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
		if [ "$p" = ::retire ]; then break; fi
		if [ "$d" = "$p" ]; then keepit=1; fi
	done
	[ -n "$keepit" ] || rm -rf -- "$d"
done
retiring=
for d in "$@"; do
	if [ "$d" = ::retire ]; then
		retiring=1
		continue
	fi
	if [ -z "$retiring" ] || [ ! -d "$d" ] || [ "$d" = "$id" ]; then continue; fi
	# A drop-in's WorkingDirectory= names the release it pins.
	if grep -qsxF -- "WorkingDirectory=$root/releases/$d" "$unitdir"/*.d/release.conf; then continue; fi
	rm -rf -- "$d"
done
exit 0
