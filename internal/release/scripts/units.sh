# shellcheck shell=sh
# units.sh ROOT
#
# Prints, read-only, the unit files kept in every completed release (the
# text each was rendered with, for a rollback to restore): "release ID",
# then each file as "file NAME LENGTH" followed by its bytes. A release
# made before releases kept their units prints its header alone.
set -u
LC_ALL=C
export LC_ALL
for d in "$1"/releases/*; do
	[ -d "$d" ] || continue
	id=${d##*/}
	case $id in
	*[!0-9A-Za-z.-]*) continue ;; # not a release id: never one of ours
	esac
	printf 'release %s\n' "$id"
	for f in "$d"/units/*; do
		[ -f "$f" ] || continue
		printf 'file %s %s\n' "${f##*/}" "$(wc -c <"$f" | tr -d ' ')"
		cat -- "$f"
	done
done
exit 0
