# shellcheck shell=sh
# prepare.sh ROOT ID OWNER APPUSER DIR... [::link SRC DST MODE ...]
#
# Creates the app user if missing, removes releases left half built by
# interrupted runs (the caller holds the host's lock, so none is in use),
# and starts release ID as the hidden directory releases/.ID.partial: its
# directories, then the files an existing release already has (SRC is
# relative to releases/, DST to the new release, MODE the octal mode DST
# must have). A file is hard-linked only when its inode can be shared as it
# is: root's, with exactly MODE. Anything else (an app-owned template, a
# 0600 secret, another mode) is copied, so no chown or chmod of one
# release ever reaches another. OWNER, when set, is the login user that
# uploads the remaining files by SFTP. Run after own.sh, which records the
# root (when created here) and releases/.
set -eu
root=$1 id=$2 owner=$3 appuser=$4
shift 4
if [ -n "$appuser" ] && ! id -u "$appuser" >/dev/null 2>&1; then
	if command -v useradd >/dev/null 2>&1; then
		useradd --system --no-create-home --home-dir "$root" --shell /usr/sbin/nologin "$appuser"
	else
		adduser -S -H -h "$root" -s /sbin/nologin "$appuser"
	fi
fi
# Recorded for uninstall (see own.sh): the root only when this run
# creates it, so a directory the operator made, and whatever else it
# holds, is never the tool's to remove.
if [ -e "$root" ]; then own "$root/releases"; else own "$root" "$root/releases"; fi
mkdir -p "$root/releases"
for p in "$root"/releases/.*.partial; do
	if [ -e "$p" ]; then rm -rf -- "$p"; fi
done
if [ -e "$root/releases/$id" ]; then
	echo "release $id already exists" >&2
	exit 1
fi
new=$root/releases/.$id.partial
mkdir -p "$new"
while [ $# -gt 0 ] && [ "$1" != "::link" ]; do
	mkdir -p "$new/$1"
	shift
done
[ $# -gt 0 ] && shift
while [ $# -gt 2 ]; do
	src=$root/releases/$1 dst=$new/$2 mode=$3
	shift 3
	if [ "$(stat -c '%u:%g:%a' -- "$src" 2>/dev/null)" = "0:0:$mode" ] && ln -- "$src" "$dst" 2>/dev/null; then
		continue
	fi
	cp -- "$src" "$dst"
	chmod "$mode" "$dst"
done
if [ -n "$owner" ]; then find "$new" -type d -exec chown "$owner" {} +; fi
exit 0
