# shellcheck shell=sh
# own.sh STATEDIR, prepended to the scripts that create paths for an app
# (prepare.sh, switch.sh, install.sh). It takes its own first positional
# parameter, so the script after it sees its usage's arguments as $1....
#
# "own PATH..." appends every PATH not yet listed to STATEDIR/owned: the
# record of what openim-deploy created for the app on this host, one
# absolute path a line, which uninstall removes by exact name and nothing
# else. A path is recorded before it is created, so a run cut short in
# between leaves a record of a path that may not exist (harmless: removal
# skips it) rather than a path that exists unrecorded. The record is the
# tool's own state: root's, 0600.
#
# Exit statuses (named in release.go, for the script it is prepended to):
#   2 exitBadInput  STATEDIR is not an absolute directory: nothing was done
# A record that cannot be written exits 1 (awk's own status, 2 for some
# awks, would read as exitBadInput).
owned_record=$1/owned
shift
case $owned_record in
/?*/owned) ;;
*) echo "own: no state directory" >&2; exit 2 ;;
esac
own() {
	[ -d "${owned_record%/*}" ] || (umask 077 && mkdir -p -- "${owned_record%/*}")
	[ -f "$owned_record" ] || (umask 077 && : >>"$owned_record")
	# One awk for every path: those already listed are left out. awk has
	# read the whole record before it reads the first new path from stdin.
	# shellcheck disable=SC2094
	printf '%s\n' "$@" | awk 'FILENAME != "-" { seen[$0] = 1; next } !seen[$0]++' "$owned_record" - >>"$owned_record" || exit 1
}
