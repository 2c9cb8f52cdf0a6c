#!/bin/bash
# floor-remote.sh APP PORT SHA256|- apply|upgraded|restart
# The on-host half of floor.sh, sent on stdin to `sh -s` (dash on Debian;
# the health check needs bash's /dev/tcp). Exit 3: the binary must be sent.
set -u
app=$1 port=$2 sum=$3 action=$4
root=/opt/$app
u0=$app-svc@0.service u1=$app-svc@1.service
if [ "$action" = apply ]; then
	[ -f "$root/bin/benchsvc" ] && [ "$(sha256sum <"$root/bin/benchsvc" | cut -d' ' -f1)" = "$sum" ] || exit 3
fi
if [ "$action" != restart ]; then
	mkdir -p "$root/config"
	changed=0
	put() { # put FILE CONTENT: write when different
		if [ "$(cat "$1" 2>/dev/null)" != "$2" ]; then
			printf '%s\n' "$2" >"$1" && changed=1
		fi
	}
	put "$root/config/standin.json" "{\"benchsvc\": {\"ports\": [$port, $((port + 1))]}}"
	put "/etc/systemd/system/$app-svc@.service" "[Unit]
Description=$app bench service %i
PartOf=$app.target
[Service]
WorkingDirectory=$root
ExecStart=$root/bin/benchsvc -i %i -c $root/config
Restart=always
[Install]
WantedBy=$app.target"
	put "/etc/systemd/system/$app.target" "[Unit]
Description=$app
[Install]
WantedBy=multi-user.target"
	[ "$changed" = 0 ] || systemctl daemon-reload || exit 1
	systemctl is-enabled -q "$app.target" "$u0" "$u1" 2>/dev/null || systemctl enable -q "$app.target" "$u0" "$u1" || exit 1
fi
case $action in
apply) systemctl start "$app.target" "$u0" "$u1" ;;
*) systemctl restart "$u0" "$u1" ;;
esac || exit 1
exec bash -c '
port=$1 u0=$2 u1=$3
healthy() { # GET /healthz on 127.0.0.1:$1 answers 200
	{ exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
	printf "GET /healthz HTTP/1.0\r\n\r\n" >&3
	local line
	read -r line <&3
	exec 3<&-
	case $line in *" 200 "*) return 0 ;; esac
	return 1
}
for p in "$port" "$((port + 1))"; do
	n=0
	until healthy "$p"; do
		n=$((n + 1))
		[ "$n" -lt 200 ] || { echo "instance on $p not healthy" >&2; exit 1; }
		sleep 0.05
	done
done
before=$(systemctl show -p MainPID,NRestarts,ActiveState "$u0" "$u1")
sleep 0.1
after=$(systemctl show -p MainPID,NRestarts,ActiveState "$u0" "$u1")
[ "$before" = "$after" ] && [ "$(printf "%s\n" "$after" | grep -c "^ActiveState=active$")" = 2 ] || { echo "not stable" >&2; exit 1; }
' bash "$port" "$u0" "$u1"
