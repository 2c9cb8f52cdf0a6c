# shellcheck shell=sh
# release.sh DIR ID
#
# Removes the lease DIR when it is ID's. It is renamed away first, so it
# disappears at once rather than file by file (a half-removed lease would
# look like an unfinished acquire), and removed only if what was renamed
# is ours; otherwise it is put back.
#
# Exit statuses (named in script.go):
#   3 exitLost  the lease is not ID's: broken, or taken over after it
#               expired; it was left alone
# Any other non-zero status is a failure.
dir=$1 id=$2
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
