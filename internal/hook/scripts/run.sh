# shellcheck shell=sh
# run.sh SECONDS COUNT NAME=VALUE... ARGV...
#
# Runs a playbook hook's command (ARGV) on this host with the rollout's
# variables: the COUNT NAME=VALUE assignments that follow are exported
# first. They arrive as positional parameters, which travel in the
# script's frame on stdin (target.ScriptWrapper), so no value, secret or
# not, is on a command line. The command gets SECONDS to finish, through
# coreutils timeout when the host has it (the controller ends the SSH
# session at the same deadline either way).
#
# Exit status: the command's own; 124 (HostTimedOut) when timeout ended
# it; 125 (HostBadArgs) when the arguments are malformed.
set -u
secs=$1
n=$2
shift 2 || exit 125
case $n in '' | *[!0-9]*) exit 125 ;; esac
while [ "$n" -gt 0 ]; do
	case $1 in
	*=*) export "${1?}" ;;
	*) exit 125 ;;
	esac
	shift
	n=$((n - 1))
done
[ $# -gt 0 ] || exit 125
if command -v timeout >/dev/null 2>&1; then
	exec timeout -k 5 "$secs" "$@"
fi
exec "$@"
