#!/bin/bash
# floor.sh: the bench job done by hand, the fastest plain way: one ssh
# connection per host (ControlMaster), every host at once, the binary sent
# only when its sha256 differs. It is the "floor" `make bench` measures
# openim-deploy against (internal/e2e/bench_table_test.go).
#
#   floor.sh [-z] [-b HOSTS] apply|restart APP PORT BIN KEY KNOWN_HOSTS STATSDIR ADDR...
#
# apply: push BIN to /opt/APP/bin/benchsvc when it changed, a template unit
#   APP-svc@.service with instances 0 and 1 (ports PORT, PORT+1) and
#   APP.target, daemon-reload when a unit changed, enable, start (restart
#   when the binary changed), and confirm both instances answer /healthz
#   and stay up for 100 ms.
# restart: restart both instances, HOSTS hosts at a time (-b, default 2),
#   each batch health-checked as above before the next.
# -z: send the binary gzip-compressed, decompressed by the host's gzip -dc.
# STATSDIR gets one file per host with the number of ssh sessions opened.
set -u
here=$(cd "$(dirname "$0")" && pwd)
gz=0 batch=2
while getopts zb: o; do
	case $o in
	z) gz=1 ;;
	b) batch=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
mode=$1 app=$2 port=$3 bin=$4 key=$5 kh=$6 stats=$7
shift 7
ctl=$(mktemp -d /tmp/floor-ctl.XXXXXX)
trap 'for a in "$@"; do ssh -o ControlPath="$ctl/$a" -O exit "root@$a" 2>/dev/null; done; rm -rf "$ctl"' EXIT

sshh() { # sshh ADDR ARGS...: one session over the host's shared connection
	local a=$1
	shift
	echo x >>"$stats/$a"
	ssh -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes -i "$key" \
		-o UserKnownHostsFile="$kh" -o StrictHostKeyChecking=yes \
		-o ControlMaster=auto -o ControlPath="$ctl/$a" -o ControlPersist=60 \
		"root@$a" "$@"
}

sum=$(sha256sum "$bin" | cut -d' ' -f1)

host_apply() {
	local a=$1 rc
	sshh "$a" sh -s -- "$app" "$port" "$sum" apply <"$here/floor-remote.sh"
	rc=$?
	[ "$rc" = 3 ] || return "$rc" # 3: the binary differs, send it
	if [ "$gz" = 1 ]; then
		gzip -1 -c "$bin" | sshh "$a" "mkdir -p /opt/$app/bin && gzip -dc >/opt/$app/bin/.benchsvc.new && chmod 755 /opt/$app/bin/.benchsvc.new && mv -f /opt/$app/bin/.benchsvc.new /opt/$app/bin/benchsvc"
	else
		sshh "$a" "mkdir -p /opt/$app/bin && cat >/opt/$app/bin/.benchsvc.new && chmod 755 /opt/$app/bin/.benchsvc.new && mv -f /opt/$app/bin/.benchsvc.new /opt/$app/bin/benchsvc" <"$bin"
	fi || return 1
	sshh "$a" sh -s -- "$app" "$port" "$sum" upgraded <"$here/floor-remote.sh"
}

host_restart() {
	sshh "$1" sh -s -- "$app" "$port" - restart <"$here/floor-remote.sh"
}

fail=0
run_all() { # run_all FN ADDR...: FN on every ADDR at once
	local fn=$1 pids=() p
	shift
	for a in "$@"; do
		"$fn" "$a" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || fail=1; done
}

case $mode in
apply) run_all host_apply "$@" ;;
restart)
	hosts=("$@")
	for ((i = 0; i < ${#hosts[@]}; i += batch)); do
		run_all host_restart "${hosts[@]:i:batch}"
		[ "$fail" = 0 ] || break
	done
	;;
*) echo "floor.sh: unknown mode $mode" >&2; exit 2 ;;
esac
exit "$fail"
