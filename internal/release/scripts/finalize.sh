# shellcheck shell=sh
# finalize.sh ROOT ID [SRC DST ...] < MANIFEST
#
# Completes releases/.ID.partial: links files whose content appears twice
# in the release (uploaded once as SRC, linked as DST), writes the
# manifest read from stdin (the SHA-256 of every file, known to the
# controller, so nothing is hashed again here), makes the release
# root-owned with secrets 0600, and renames it to releases/ID. The rename
# is the commit: a release without its manifest never exists.
set -eu
root=$1 id=$2
shift 2
new=$root/releases/.$id.partial
while [ $# -gt 1 ]; do
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
mv -T "$new" "$root/releases/$id"
exit 0
