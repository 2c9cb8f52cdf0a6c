# shellcheck shell=sh
# reset_restart.sh UNIT...
#
# Clears the units' failed state (a unit that tripped StartLimitBurst
# refuses to start until then), then restarts them all in one systemctl
# call, so systemd runs their jobs side by side. reset-failed's own
# failure (a unit never loaded has no state to clear) is not one.
#
# Exit status: the restart's (exec); systemctl names each unit whose job
# failed on stderr (see FailedJobs). No status of its own.
systemctl reset-failed -- "$@" 2>/dev/null
exec systemctl restart -- "$@"
