# shellcheck shell=sh
# refresh.sh DIR ID TTL
#
# Extends the lease DIR by TTL seconds from now, only while its id is
# still ID: the new expiry is written next to the old one and renamed into
# place, so readers never see a half-written number.
#
# Exit statuses (named in script.go):
#   3 exitLost  the lease is not ID's: broken, or taken over after it
#               expired; nothing was written
# Any other non-zero status is a failure.
# shellcheck disable=SC2154 # now is prelude.sh's, prepended
dir=$1 id=$2 ttl=$3
got=''; { IFS= read -r got <"$dir/id"; } 2>/dev/null
[ "$got" = "$id" ] || exit 3
printf '%s\n' "$((now + ttl))" >"$dir/expires.$id" &&
	mv -f -- "$dir/expires.$id" "$dir/expires" || exit 1
