# shellcheck shell=sh
# install.sh DIR APP [RELOAD [UNIT...] [::show UNIT...]] < RECORDS
#
# Writes and removes files under DIR (the systemd unit directory) from
# records on stdin, each one line and, for "put", the content after it:
#   put MODE SIZE SHA256 PATH     then SIZE bytes
#   del - - - PATH
# Every file is first written to a temp name beside its destination and its
# length checked; then all are hashed with one sha256sum; only when every
# length and hash is right are they renamed into place, so a truncated or
# corrupted unit is never installed and a bad record installs nothing. PATH
# is relative to DIR and never climbs out.
#
# With RELOAD "reload", the UNITs are then enabled (without the implicit
# reload of "systemctl enable") and systemd reloads once, and the units
# after ::show are shown (Id and NeedDaemonReload) to prove the reload took:
# the whole install is one round trip and one daemon-reload. Run after
# own.sh, which records every file written.
#
# A file already at a PATH is replaced or removed only when its first line
# is APP's header (header_app, from header.sh, which is prepended): the
# plan refuses such a host before it gets here, and this is the last line
# of defence.
#
# Exit statuses (named in release.go; the same meaning in every release
# script):
#   2 exitBadInput     a record or PATH is invalid: nothing was installed
#   3 exitCorrupt      a file's length or SHA-256 is not what was sent:
#                      nothing was installed
#   4 exitSystemctl    the files are in place, then systemctl failed
#   5 ExitForeignFile  a PATH holds a file APP did not write: nothing was
#                      installed or removed
# Any other non-zero status is a command's own failure, named on stderr.
set -eu
LC_ALL=C
export LC_ALL
dir=$1
app=$2
reload=${3:--}
[ $# -lt 3 ] || shift 3
nl='
'
tmps='' puts='' dels='' checks='' owned=''
# shellcheck disable=SC2317,SC2086 # run by the trap; $tmps splits on newlines only
cleanup() {
	[ -z "$tmps" ] || (IFS=$nl; set -f; rm -f -- $tmps)
}
trap cleanup EXIT
while IFS=' ' read -r op mode size sum rel; do
	case $rel in
	'' | /* | ../* | */../* | *..) echo "install: refusing path '$rel'" >&2; exit 2 ;;
	esac
	case $rel in *"$nl"* | *.openim-deploy.tmp) echo "install: refusing path '$rel'" >&2; exit 2 ;; esac
	dst=$dir/$rel
	case $op in
	put)
		[ -d "${dst%/*}" ] || mkdir -p -- "${dst%/*}"
		tmp=$dst.openim-deploy.tmp
		tmps=$tmps$tmp$nl
		if [ "$size" -gt 0 ]; then
			dd bs="$size" count=1 iflag=fullblock status=none of="$tmp"
		else
			: >"$tmp"
		fi
		got=$(wc -c <"$tmp")
		got=${got#"${got%%[! ]*}"}
		if [ "$got" != "$size" ]; then
			echo "install: $rel: received $got bytes of $size" >&2
			exit 3
		fi
		chmod "$mode" "$tmp"
		puts="$puts$rel$nl"
		case $rel in */*) owned=$owned${dst%/*}$nl ;; esac # its drop-in directory
		owned=$owned$dst$nl
		checks="$checks$sum  $tmp$nl"
		;;
	del) dels=$dels$rel$nl ;;
	*) echo "install: unknown record '$op'" >&2; exit 2 ;;
	esac
done
# One sha256sum checks every file, not one per file.
if [ -n "$checks" ] && ! printf '%s' "$checks" | sha256sum -c >/dev/null 2>&1; then
	printf '%s' "$checks" | sha256sum -c 2>&1 | grep -v ': OK$' >&2
	echo "install: sha256 mismatch" >&2
	exit 3
fi
# ours FILE: FILE is absent, or a regular file whose header is APP's.
ours() {
	[ -e "$1" ] || [ -L "$1" ] || return 0
	[ -f "$1" ] && [ ! -L "$1" ] || return 1
	first=
	IFS= read -r first <"$1" || true
	header_app "$first" && { [ -z "$hdr_app" ] || [ "$hdr_app" = "$app" ]; }
}
IFS=$nl
set -f
# shellcheck disable=SC2086 # paths, split on newlines only
for rel in $puts$dels; do
	ours "$dir/$rel" && continue
	first=
	[ -L "$dir/$rel" ] || [ ! -f "$dir/$rel" ] || IFS= read -r first <"$dir/$rel" || true
	printf 'install: %s exists and was not written by openim-deploy for app %s (first line: "%s"): refusing to replace it\n' \
		"$dir/$rel" "$app" "$(printf '%s' "$first" | tr -c '[:print:]' '?')" >&2
	exit 5
done
IFS=' 	
'
set +f
# Recorded for uninstall (see own.sh), by the exact names written.
# shellcheck disable=SC2086 # paths, split on newlines only
[ -z "$owned" ] || (IFS=$nl; set -f; own $owned)
printf '%s' "$puts" | while IFS= read -r rel; do
	mv -f -- "$dir/$rel.openim-deploy.tmp" "$dir/$rel"
done
tmps=''
printf '%s' "$dels" | while IFS= read -r rel; do
	[ -n "$rel" ] || continue
	rm -f -- "$dir/$rel"
	case $rel in
	*.d/*) rmdir -- "$dir/${rel%/*}" 2>/dev/null || true ;;
	esac
done
if [ "$reload" = reload ]; then
	enable=''
	while [ $# -gt 0 ] && [ "$1" != "::show" ]; do
		enable=$enable$1$nl
		shift
	done
	if [ -n "$enable" ]; then
		# shellcheck disable=SC2086 # unit names, split on newlines only
		(IFS=$nl; set -f; systemctl enable --no-reload -q -- $enable) || exit 4
	fi
	systemctl daemon-reload || exit 4
	if [ $# -gt 1 ]; then
		shift
		systemctl show -p Id,NeedDaemonReload -- "$@" || exit 4
	fi
fi
exit 0
