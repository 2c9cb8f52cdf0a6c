# shellcheck shell=sh
# install.sh DIR < RECORDS
#
# Writes and removes files under DIR (the systemd unit directory) from
# records on stdin, each one line and, for "put", the content after it:
#   put MODE SIZE SHA256 PATH     then SIZE bytes
#   del - - - PATH
# A file is written to a temp name beside its destination, its length and
# SHA-256 are checked, and only then is it renamed into place: a truncated
# unit is never installed. PATH is relative to DIR and never climbs out.
set -eu
LC_ALL=C
export LC_ALL
dir=$1
while IFS=' ' read -r op mode size sum rel; do
	case $rel in
	'' | /* | ../* | */../* | *..) echo "install: refusing path '$rel'" >&2; exit 2 ;;
	esac
	dst=$dir/$rel
	case $op in
	put)
		mkdir -p -- "$(dirname -- "$dst")"
		tmp=$dst.openim-deploy.tmp
		if [ "$size" -gt 0 ]; then
			dd bs="$size" count=1 iflag=fullblock status=none of="$tmp"
		else
			: >"$tmp"
		fi
		got=$(wc -c <"$tmp" | tr -d ' ')
		if [ "$got" != "$size" ]; then
			rm -f -- "$tmp"
			echo "install: $rel: received $got bytes of $size" >&2
			exit 3
		fi
		h=$(sha256sum <"$tmp")
		if [ "${h%% *}" != "$sum" ]; then
			rm -f -- "$tmp"
			echo "install: $rel: sha256 mismatch" >&2
			exit 3
		fi
		chmod "$mode" "$tmp"
		mv -f -- "$tmp" "$dst"
		;;
	del)
		rm -f -- "$dst"
		case $rel in
		*.d/*) rmdir -- "$(dirname -- "$dst")" 2>/dev/null || true ;;
		esac
		;;
	*) echo "install: unknown record '$op'" >&2; exit 2 ;;
	esac
done
exit 0
