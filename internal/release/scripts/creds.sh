# shellcheck shell=sh
# creds.sh STATEDIR DIR < RECORDS
#
# Encrypts secrets into systemd credentials inside DIR (a partial release),
# for credential delivery (secret_delivery): the plaintext arrives on stdin
# and goes straight from it into "systemd-creds encrypt" on a pipe, never
# into an argument, an environment variable or a file. Records, one line
# each:
#   key HEX                    first, when the host has no key of the app's
#                              credential hashes yet: written to
#                              STATEDIR/credential.key, 0600 root, unless
#                              one appeared meanwhile (then exit 2)
#   cred NAME SIZE REL         then SIZE bytes of plaintext: encrypted with
#                              the credential name NAME (the one the unit's
#                              LoadCredentialEncrypted= gives) into DIR/REL,
#                              0600 root
#   end                        last: without it the input was cut short
# Directories are created 0755 (they name nothing secret), files 0600. A
# REL is relative to DIR and never climbs out. systemd-creds encrypts with
# the host's credential key (/var/lib/systemd/credential.secret, created
# on first use) and the TPM2 when there is one ("--with-key=auto").
#
# Exit statuses (named in release.go):
#   2 exitBadInput  a record or REL is invalid, or a key is already there
#   3 exitCorrupt   the input ended before its "end" record
# Any other non-zero status is a command's own failure (systemd-creds
# missing or refusing), named on stderr.
set -eu
LC_ALL=C
export LC_ALL
statedir=$1 dir=$2
umask 077
ended=0
while IFS=' ' read -r op name size rel; do
	case $op in
	end) ended=1; break ;;
	key)
		case $name in *[!0-9a-f]* | '') echo "creds: bad key record" >&2; exit 2 ;; esac
		if [ -e "$statedir/credential.key" ]; then
			echo "creds: $statedir/credential.key appeared during the run" >&2
			exit 2
		fi
		[ -d "$statedir" ] || mkdir -p -- "$statedir"
		printf '%s\n' "$name" >"$statedir/credential.key.tmp"
		mv -f -- "$statedir/credential.key.tmp" "$statedir/credential.key"
		continue
		;;
	cred) ;;
	*) echo "creds: unknown record '$op'" >&2; exit 2 ;;
	esac
	case $rel in
	'' | /* | ../* | */../* | *..) echo "creds: refusing path '$rel'" >&2; exit 2 ;;
	esac
	case $name in '' | *[!A-Za-z0-9_.@+-]*) echo "creds: refusing credential name '$name'" >&2; exit 2 ;; esac
	case $size in '' | *[!0-9]*) echo "creds: bad size for $rel" >&2; exit 2 ;; esac
	dst=$dir/$rel
	(umask 022 && mkdir -p -- "${dst%/*}")
	rm -f -- "$dst.tmp"
	# dd stops after SIZE bytes: the next record stays on stdin. An empty
	# secret reads nothing from it.
	if [ "$size" -gt 0 ]; then
		dd bs="$size" count=1 iflag=fullblock status=none
	fi | systemd-creds encrypt --name="$name" - "$dst.tmp" 2>"$dst.err" || {
		sed 's/^/creds: /' "$dst.err" >&2
		rm -f -- "$dst.tmp" "$dst.err"
		exit 1
	}
	rm -f -- "$dst.err"
	chmod 0600 "$dst.tmp"
	mv -f -- "$dst.tmp" "$dst"
done
if [ "$ended" != 1 ]; then
	echo "creds: input cut short" >&2
	exit 3
fi
