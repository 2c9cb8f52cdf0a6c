# shellcheck shell=sh
# stream.sh ARGV...
#
# Runs ARGV in the background and kills it (SIGTERM) as soon as this
# script's stdin reaches end of file, then exits with ARGV's status.
#
# Why: closing an SSH session does not stop a command that never writes.
# sshd closes the command's pipes, but "journalctl -f" on a quiet unit
# only notices (by SIGPIPE) at its next line, which may be hours away, and
# the "signal" channel request reaches only the process sshd started (sudo
# or the login shell), not always the command under it. Without a pty
# there is no SIGHUP either. The one thing every sshd does on session
# close, or when the connection dies, is close the command's stdin; the
# watcher below turns that into a kill. The client keeps stdin open while
# it streams and closes it to stop the command. Input lines are read and
# ignored, so only end of file stops it.
#
# Exit status: ARGV's. No status of its own.
exec 3<&0 </dev/null
"$@" 3<&- &
p=$!
(while read -r _; do :; done <&3; kill "$p") >/dev/null 2>&1 &
w=$!
exec 3<&-
wait "$p"
s=$?
kill "$w" 2>/dev/null
exit "$s"
