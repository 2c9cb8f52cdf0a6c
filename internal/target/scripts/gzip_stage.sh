# shellcheck shell=sh
# gzip_stage.sh N DST MODE SIZE [DST MODE SIZE ...] < GZIP-STREAM
#
# Stages N files from one gzip stream on one exec session: stdin is the
# files' gzip members, concatenated in argument order; the host's own
# gzip -dc makes them one stream, which dd cuts into the files by their
# sizes (count_bytes reads exactly SIZE bytes, never past a file's end).
# Each file is written under a temp name beside DST with umask 077, given
# MODE and renamed over DST once every file's size matched. Like
# StageFile, no SHA-256 is checked here: the caller checks every staged
# file in one command before anything uses them (a release is hashed as a
# whole before it is committed).
#
# Exit statuses (named in gzip_stage.go):
#   2 gzipStageBadInput  the arguments are not N triples
#   3 gzipExitMissing    no gzip or dd: stdin was left unread
#   4 gzipExitDest       a DST is a directory
#   5 gzipExitCut        gzip -dc failed, or the stream ended before a file
#                        was complete: the stream was cut short or corrupt
#   7 gzipExitInstall    a file could not be given MODE or renamed over DST
# No DST changes before every file arrived whole; the temp files are
# removed whatever happens.
n=$1
shift
[ "$#" -eq $((n * 3)) ] || { echo "want $n files of 3 arguments, got $# arguments" >&2; exit 2; }
if ! command -v gzip >/dev/null 2>&1 || ! command -v dd >/dev/null 2>&1; then
  echo "gzip or dd not found" >&2; exit 3
fi
# A file's temp name is hidden beside it: .NAME.openim-deploy-gz.PID.
tmpof() {
  case $1 in */*) d=${1%/*} ;; *) d=. ;; esac
  printf '%s/.%s.openim-deploy-gz.%s' "$d" "${1##*/}" "$$"
}
cleanup() {
  while [ "$#" -gt 0 ]; do
    rm -f -- "$(tmpof "$1")"
    shift 3
  done
}
# shellcheck disable=SC2317 # called by the traps
on_exit() { cleanup "$@"; }
trap 'on_exit "$@"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 141' PIPE
trap 'exit 143' TERM
umask 077
i=0
for arg in "$@"; do
  if [ $((i % 3)) -eq 0 ] && [ -d "$arg" ]; then
    echo "$arg is a directory" >&2; exit 4
  fi
  i=$((i + 1))
done
# The pipeline's status is the subshell's: a stream that gzip could not
# finish leaves a file short, which is what is checked.
gzip -dc | (
  while [ "$#" -gt 0 ]; do
    tmp=$(tmpof "$1")
    dd of="$tmp" bs=65536 count="$3" iflag=count_bytes,fullblock status=none || exit 5
    got=$(($(wc -c <"$tmp"))) || exit 5
    [ "$got" = "$3" ] || { echo "$1: stream ended after $got of $3 bytes: cut short or corrupt" >&2; exit 5; }
    chmod "$2" "$tmp" || exit 7
    shift 3
  done
  # Whatever follows the last file is not ours: refuse rather than guess.
  extra=$(dd bs=1 count=1 status=none | wc -c) || exit 5
  [ "$extra" -eq 0 ] || { echo "the stream holds more than the files" >&2; exit 5; }
) || exit $?
while [ "$#" -gt 0 ]; do
  mv -f -- "$(tmpof "$1")" "$1" || exit 7
  shift 3
done
