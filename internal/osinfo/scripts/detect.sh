# shellcheck shell=sh
# detect.sh DISKPATH [UNIT...]
#
# Prints what the controller needs to know about this host, one section
# per fact, each started by a line "${m}NAME" (m, set below, is osinfo's
# marker constant): os, uname, init, systemd,
# machine-id, clock, memory, nofile, user, sudo, listen, disk (free space
# at DISKPATH's nearest existing ancestor), gzip, curl, wget (where each
# is, for compressed uploads and artifacts the host fetches), then, when UNITs are
# given, units ("systemctl show -p Id,ActiveState" of each), and end.
# Values arrive as positional parameters, never inside the script text.
#
# Every probe is optional: a missing tool leaves its section empty, which
# Detect records in Facts.Unknown. It only reads: "sudo -n true" runs
# true.
#
# It runs on every host on every run, so it forks as little as it can
# (uname, readlink, systemctl, date, cat, id, awk and df: files are read
# with the read builtin, limits with ulimit): on a small host each process
# costs milliseconds, and a fleet's hosts often share cores.
#
# No exit status of its own: it ends with an echo, so a non-zero status
# means sh itself failed.
LC_ALL=C; export LC_ALL
m='@@openim-deploy-facts@@ '
nl='
'
cat1() { # cat1 FILE...: print the first readable FILE with the read builtin
  for __f; do
    [ -r "$__f" ] || continue
    while IFS= read -r __l || [ -n "$__l" ]; do printf '%s\n' "$__l"; done <"$__f"
    return 0
  done
  return 1
}
echo "${m}os"
cat1 /etc/os-release /usr/lib/os-release
echo "${m}uname"
if u=$(uname -n -r -m); then
  r=${u#* }
  printf 'node %s\nrelease %s\nmachine %s\n' "${u%% *}" "${r% *}" "${u##* }"
fi
echo "${m}init"
[ -d /run/systemd/system ] && echo run-systemd
[ -e /run/openrc ] && echo run-openrc
command -v openrc >/dev/null 2>&1 && echo openrc
[ -e /etc/inittab ] && echo inittab
[ -r /proc/1/comm ] && IFS= read -r c </proc/1/comm && echo "pid1 $c"
l=$(readlink /sbin/init 2>/dev/null) && echo "sbin-init $l"
echo "${m}systemd"
command -v systemctl >/dev/null 2>&1 && v=$(systemctl --version 2>/dev/null) && printf '%s\n' "${v%%"$nl"*}"
echo "${m}machine-id"
cat1 /etc/machine-id /var/lib/dbus/machine-id
echo "${m}clock"
date +%s
echo "${m}memory"
while IFS= read -r l; do
  case $l in MemTotal:* | MemFree:* | MemAvailable:* | Buffers:* | Cached:*) printf '%s\n' "$l" ;; esac
done </proc/meminfo
echo "${m}nofile"
# ulimit -n and -H are not POSIX, but dash, bash, busybox and ksh have them.
# shellcheck disable=SC3045
{ printf 'soft '; ulimit -n; printf 'hard '; ulimit -Hn 2>/dev/null || echo; }
# cat, not read: /proc/sys answers a one-byte read with one byte.
echo "nr_open $(cat /proc/sys/fs/nr_open 2>/dev/null)"
echo "${m}user"
uid='' name=''
if i=$(id 2>/dev/null); then
  uid=${i#uid=}; uid=${uid%%[!0-9]*}
  case $i in "uid=$uid("*) name=${i#"uid=$uid("}; name=${name%%")"*} ;; esac
fi
echo "uid $uid"; echo "name $name"
echo "${m}sudo"
if [ "$uid" = 0 ]; then echo root
elif ! command -v sudo >/dev/null 2>&1; then echo missing
elif e=$(sudo -n true 2>&1 </dev/null); then echo ok
else echo "fail $e"; fi
echo "${m}listen"
t=
for f in /proc/net/tcp /proc/net/tcp6; do [ -r "$f" ] && t="$t $f"; done
# $t is unquoted on purpose: two fixed paths, split on the blanks.
# shellcheck disable=SC2086
[ -n "$t" ] && awk '$4 == "0A" { print $2 }' $t
echo "${m}disk"
d=${1:-/}
while [ ! -e "$d" ]; do
  case $d in */?*) d=${d%/*}; d=${d:-/} ;; *) d=/ ;; esac
done
echo "path $d"
df -Pk -- "$d" 2>&1
echo "${m}gzip"
command -v gzip 2>/dev/null
echo "${m}curl"
command -v curl 2>/dev/null
echo "${m}wget"
command -v wget 2>/dev/null
if [ $# -gt 1 ]; then
  echo "${m}units"
  shift
  systemctl show -p Id,ActiveState -- "$@" 2>/dev/null
fi
echo "${m}end"
