# shellcheck shell=sh
# finalize.sh ROOT ID APPUSER [SRC DST ...] [::own PATH ...] < MANIFEST
#
# Completes releases/.ID.partial: links files whose content appears twice
# in the release (uploaded once as SRC, linked as DST), writes the
# manifest read from stdin (the SHA-256 of every file, known to the
# controller, so nothing is hashed again here), makes the release
# root-owned with secrets 0600 and the files after ::own (rendered
# templates) owned by APPUSER, and renames it to releases/ID. The rename
# is the commit: a release without its manifest never exists.
set -eu
root=$1 id=$2 appuser=$3
shift 3
new=$root/releases/.$id.partial
while [ $# -gt 1 ] && [ "$1" != "::own" ]; do
	ln -f "$new/$1" "$new/$2" 2>/dev/null || cp -p "$new/$1" "$new/$2"
	shift 2
done
cat >"$new/.manifest"
chown -R root:root "$new"
chmod 0755 "$new"
chmod 0644 "$new/.manifest"
if [ -d "$new/env" ]; then
	chmod 0700 "$new/env"
	find "$new/env" -type f -exec chmod 0600 {} +
fi
if [ $# -gt 0 ] && [ "$1" = "::own" ]; then
	shift
	for f in "$@"; do
		if [ -n "$appuser" ]; then chown "$appuser" "$new/$f"; fi
	done
fi
mv -T "$new" "$root/releases/$id"
exit 0
