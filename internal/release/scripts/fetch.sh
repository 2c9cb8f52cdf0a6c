# shellcheck shell=sh
# fetch.sh DST MODE SHA256 URL AUTH [< CURL-CONFIG]
#
# Fetches URL, with the host's own curl or else wget, into DST (a file of
# a partial release, see prepare.sh), and keeps it only when its SHA-256
# is SHA256: the download goes to a temp file beside DST
# (.NAME.openim-deploy-fetch.PID), is hashed, given MODE and renamed over
# DST. The controller sends none of the file's bytes, and DST never holds
# a file that is not the one the playbook names by its hash.
#
# With AUTH=1, stdin is curl configuration holding the credentials
# (header = "..."), handed to "curl -K -" as it arrives: credentials never
# reach an argument, the environment or a file. GNU wget reads a header
# only from its command line or from a regular file, so AUTH=1 needs
# curl. With AUTH=0, stdin is not read.
#
# Exit statuses (named in release.go):
#   6 exitNoFetcher     neither curl nor wget (with AUTH=1: no curl):
#                       nothing was fetched
#   7 exitFetchFailed   the download failed (the store unreachable, an
#                       HTTP error, a transfer cut short); the fetcher's
#                       own message is the last line on stderr
#   8 exitHashMismatch  the file fetched has another SHA-256, printed
#                       alone on stdout
#   129, 130, 141, 143  killed by SIGHUP, SIGINT, SIGPIPE, SIGTERM (128+N)
# Any other non-zero status is a command's own failure, named on stderr.
# Nothing but a 0 leaves DST, and no status leaves the temp file.
dst=$1 mode=$2 want=$3 url=$4 auth=$5
if command -v curl >/dev/null 2>&1; then
	tool=curl
elif [ "$auth" = 1 ]; then
	echo "curl not found: the credentials of $url are given to curl only, on stdin" >&2
	exit 6
elif command -v wget >/dev/null 2>&1; then
	tool=wget
else
	echo "neither curl nor wget found" >&2
	exit 6
fi
case $dst in */*) dir=${dst%/*} ;; *) dir=. ;; esac
tmp=$dir/.${dst##*/}.openim-deploy-fetch.$$
trap 'rm -f -- "$tmp"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 141' PIPE
trap 'exit 143' TERM
umask 077
if [ "$tool" = curl ]; then
	# -f: an HTTP error is a failure, not a file; the protocols are pinned
	# for redirects too; a store that stalls for a minute fails.
	set -- -fsSL --proto =http,https --proto-redir =http,https \
		--connect-timeout 30 --speed-time 60 --speed-limit 1 -o "$tmp"
	if [ "$auth" = 1 ]; then set -- "$@" -K -; fi
	msg=$(curl "$@" "$url" 2>&1) && ok=1 || ok=0
else
	msg=$(wget -nv --tries=1 --connect-timeout=30 --read-timeout=60 -O "$tmp" "$url" 2>&1 </dev/null) && ok=1 || ok=0
fi
if [ "$ok" = 0 ]; then
	printf '%s\n' "${msg:-$tool failed}" >&2
	exit 7
fi
got=$(sha256sum <"$tmp") || exit 1
got=${got%% *}
if [ "$got" != "$want" ]; then
	printf '%s\n' "$got"
	echo "$url has SHA-256 $got, not $want" >&2
	exit 8
fi
chmod "$mode" "$tmp" || exit 1
mv -f -- "$tmp" "$dst" || exit 1
trap - EXIT
exit 0
