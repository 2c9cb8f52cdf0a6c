# shellcheck shell=sh
# finalize.sh ROOT ID APPUSER [SRC DST ...] [::own PATH ...] [::check PATH ...] < MANIFEST
#
# Completes releases/.ID.partial: links files whose content appears twice
# in the release (uploaded once as SRC, linked as DST), writes the
# manifest read from stdin (the SHA-256 of every file, known to the
# controller), checks the files after ::check (those sent without a check
# of their own) against it with one sha256sum, makes the release
# root-owned with secrets 0600 and the files after ::own (rendered
# templates) owned by APPUSER, and renames it to releases/ID. The
# manifest is 0600 too: it holds the SHA-256 of every env file and
# sensitive template, and a hash of a short secret gives the secret away
# to whoever can read it (only root reads it: gather runs as root). The
# manifests of older releases, made 0644 by earlier versions, are
# tightened the same way. The rename
# is the commit: a release without its manifest, or with a file that does
# not match it, never exists.
#
# Exit statuses (named in release.go):
#   3 exitCorrupt  a checked file does not match its SHA-256 (truncated or
#                  corrupted upload): the release was not committed
# Any other non-zero status is a command's own failure, named on stderr.
set -eu
umask 077
root=$1 id=$2 appuser=$3
shift 3
new=$root/releases/.$id.partial
while [ $# -gt 1 ] && [ "$1" != "::own" ] && [ "$1" != "::check" ]; do
	ln -f "$new/$1" "$new/$2" 2>/dev/null || cp -p "$new/$1" "$new/$2"
	shift 2
done
cat >"$new/.manifest"
chown -R root:root "$new"
chmod 0755 "$new"
chmod 0600 "$new/.manifest"
for m in "$root"/releases/*/.manifest; do
	if [ -f "$m" ] && [ ! -L "$m" ]; then chmod 0600 "$m"; fi
done
if [ -d "$new/env" ]; then
	chmod 0700 "$new/env"
	find "$new/env" -type f -exec chmod 0600 {} +
fi
if [ $# -gt 0 ] && [ "$1" = "::own" ]; then
	shift
	while [ $# -gt 0 ] && [ "$1" != "::check" ]; do
		if [ -n "$appuser" ]; then chown "$appuser" "$new/$1"; fi
		shift
	done
fi
if [ $# -gt 1 ] && [ "$1" = "::check" ]; then
	shift
	# The manifest lines of the files to check ("SHA256  PATH"), picked by
	# path; the operands are removed before awk would read them as files.
	if ! (cd "$new" && awk 'BEGIN { for (i = 1; i < ARGC; i++) { want[ARGV[i]] = 1; delete ARGV[i] } }
		want[substr($0, 67)] { print }' "$@" <.manifest | sha256sum -c >/dev/null 2>&1); then
		echo "finalize: a file sent does not match its SHA-256 (truncated or corrupted upload)" >&2
		exit 3
	fi
fi
mv -T "$new" "$root/releases/$id"
exit 0
