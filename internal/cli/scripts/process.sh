# shellcheck shell=sh
# process.sh ROOT PID...
#
# Prints, read-only, what status shows beside systemd's view: the host's
# uptime (the first line of /proc/uptime), then ROOT with its symlinks
# resolved ("-" when it does not exist), then per PID "PID CWD", the
# process's working directory resolved, or "PID -" when it is gone. Both
# are resolved the same way, so a root reached through a symlink
# (/opt -> /data/opt) still names the release a process runs.
#
# /proc/uptime counts CLOCK_BOOTTIME and systemd's start timestamp
# CLOCK_MONOTONIC; they differ only by time spent suspended, which servers
# do not do, and both ignore wall-clock changes, unlike the timestamp
# systemd prints.
#
# No exit status of its own: what it cannot read it prints as "-".
cat /proc/uptime
r=$1
shift
(cd -- "$r" 2>/dev/null && pwd -P) || echo -
for p; do printf '%s %s\n' "$p" "$(readlink -f "/proc/$p/cwd" 2>/dev/null || echo -)"; done
