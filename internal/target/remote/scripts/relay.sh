# shellcheck shell=sh
# relay.sh HOST PORT
#
# Connects to HOST:PORT from this host and relays stdin and stdout to it,
# for hosts whose sshd refuses direct-tcpip (AllowTcpForwarding no).
# bash's /dev/tcp does the connecting: Debian, Ubuntu and the RHEL family
# ship bash, and lab hosts have neither curl nor nc. "ok" on the first
# line says the connection is up; after that the stream is the peer's.
# When the peer closes, the writer is stopped so stdout ends (an HTTP
# response read to EOF finishes). stdin is kept as fd 4 because a
# background job's stdin is /dev/null in a shell without job control.
#
# The program in single quotes is bash's; the shellcheck test checks it
# as bash on its own.
#
# Exit statuses (named in relay.go):
#   127 relayExitNoBash   the host has no bash
#   111 relayExitConnect  the connection failed (bash says why on stderr)
command -v bash >/dev/null 2>&1 || { echo "probe relay: bash not found on the host" >&2; exit 127; }
# shellcheck disable=SC2016 # bash expands these, not sh
exec bash -c '
exec 3<>"/dev/tcp/$1/$2" || exit 111
exec 4<&0
echo ok
cat <&4 >&3 &
w=$!
cat <&3
kill "$w" 2>/dev/null
exit 0
' relay "$1" "$2"
