# shellcheck shell=sh
# gzip_write.sh DST MODE SIZE SHA256 < GZIP-STREAM
#
# Decompresses stdin with the host's own gzip -dc into a temp file next to
# DST, checks its size (SIZE bytes) and SHA-256, sets MODE, syncs it and
# renames it over DST: the guarantees of WriteFile (the final name only
# ever holds a complete, verified file) on one exec session instead of an
# SFTP channel.
#
# The temp name derives from the destination (.NAME.openim-deploy-gz.PID),
# so a transfer killed with its connection (SIGKILL leaves no trap to run)
# leaves at most one file per destination behind, and the next write of
# the same file removes it first. The umask keeps the temp file private
# until the final mode is set, as WriteFile does for secrets.
#
# Exit statuses (named in gzip_write.go):
#   3 gzipExitMissing  no gzip or sha256sum: stdin was left unread
#   4 gzipExitDest     DST is a directory, or a stale temp file beside it
#                      cannot be removed
#   5 gzipExitCut      gzip -dc failed: the stream was cut short or corrupt
#   6 gzipExitVerify   the result's size or SHA-256 is not what was sent
#   7 gzipExitInstall  the verified file could not be given MODE or
#                      renamed over DST
#   129, 130, 141, 143 killed by SIGHUP, SIGINT, SIGPIPE, SIGTERM (128+N),
#                      the temp file removed
# Nothing but a 0 leaves DST changed.
dst=$1 mode=$2 size=$3 sum=$4
if ! command -v gzip >/dev/null 2>&1 || ! command -v sha256sum >/dev/null 2>&1; then
  echo "gzip or sha256sum not found" >&2; exit 3
fi
case $dst in */*) dir=${dst%/*} ;; *) dir=. ;; esac
[ -n "$dir" ] || dir=/
base=${dst##*/}
[ -d "$dst" ] && { echo "$dst is a directory" >&2; exit 4; }
stem=$dir/.$base.openim-deploy-gz
for f in "$stem".*; do
  [ -e "$f" ] || [ -L "$f" ] || continue
  rm -f -- "$f" || exit 4
done
tmp=$stem.$$
trap 'rm -f -- "$tmp"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 141' PIPE
trap 'exit 143' TERM
umask 077
gzip -dc >"$tmp" || { echo "gzip -dc failed: stream cut short or corrupt" >&2; exit 5; }
n=$(($(wc -c <"$tmp"))) || exit 6
[ "$n" = "$size" ] || { echo "size on host is $n bytes, sent $size" >&2; exit 6; }
got=$(sha256sum <"$tmp") || exit 6
got=${got%% *}
[ "$got" = "$sum" ] || { echo "sha256 on host is $got, sent $sum" >&2; exit 6; }
chmod "$mode" "$tmp" || exit 7
sync -- "$tmp" 2>/dev/null || sync
mv -f -- "$tmp" "$dst" || exit 7
trap - EXIT
