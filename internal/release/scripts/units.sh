# shellcheck shell=sh
# units.sh ROOT ID
#
# Prints, read-only, the unit files kept in release ID, each as
# "file NAME LENGTH" followed by its bytes.
set -eu
LC_ALL=C
export LC_ALL
dir=$1/releases/$2/units
[ -d "$dir" ] || { echo "release $2 has no units/ (made by an older version)" >&2; exit 1; }
for f in "$dir"/*; do
	[ -f "$f" ] || continue
	printf 'file %s %s\n' "${f##*/}" "$(wc -c <"$f" | tr -d ' ')"
	cat -- "$f"
done
