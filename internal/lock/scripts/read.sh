# shellcheck shell=sh
# read.sh DIR
#
# Prints the lease DIR, as show prints it. Read-only.
#
# Exit statuses (named in script.go):
#   4 exitNotLocked  there is no lease at DIR
dir=$1
[ -d "$dir" ] || exit 4
show "$dir"
