# shellcheck shell=sh
# break.sh DIR
#
# Removes the lease DIR whoever holds it (openim-deploy unlock), and
# prints it first, as show prints it.
#
# Exit statuses (named in script.go):
#   4 exitNotLocked  there is no lease at DIR
# Any other non-zero status is a failure.
dir=$1
[ -d "$dir" ] || exit 4
show "$dir"
gone=$dir.broken.$$
mv -- "$dir" "$gone" || exit 1
rm -rf -- "$gone"
