# shellcheck shell=sh
# gather.sh ROOT APP UNITDIR STATEDIR PROPS AUDIT LEDGER SHADOWDIRS NFILES FILE... UNIT...
#
# Prints, read-only, everything the plan needs about one app on this host:
#   realroot PATH              ROOT with every symlink resolved (pwd -P), the
#                              prefix of the working directories below
#   current ID                 the release <root>/current points to
#   manifest ID                a completed release; its "sha256  path" lines follow as "m ..."
#   partial NAME               a release left half built by an interrupted run
#   owned PATH                 a file under UNITDIR this tool installed for APP
#   wants NAME                 an entry of APP.target.wants
#   ran TASK FINGERPRINT       the inputs a task last succeeded with
#   credkey HEX                the key of the app's credential hashes
#                              (STATEDIR/credential.key, 0600 root), when
#                              there is one (plan.CredentialHash)
#   foreign FILE KIND WHAT     a requested FILE is there and is not APP's:
#                              KIND file (WHAT its first line, which has no
#                              header of APP), link (WHAT where it points)
#                              or other (a directory, a device...), or
#                              shadows (WHAT the unit of that name in one of
#                              SHADOWDIRS, colon-separated, that a unit file
#                              FILE in UNITDIR would shadow)
#   sizes ... endsizes         "wc -c" of the requested unit files and drop-ins
#                              that exist, then their bytes, in that order
#   show ... endshow           "systemctl show" of every UNIT, in argument order
#   pid PID CWD                the working directory of each main process
#   audit LINE                 the last AUDIT lines of the app's audit log
#   ledger LINE                every line of the app's release ledger, when
#                              LEDGER is 1 (rollback and releases read it)
#   extra UNIT                 with LEDGER 1, an entry of APP.target.wants that
#                              is not among the UNITs: it is shown after them,
#                              in this order (a rollback may restart units
#                              today's playbook no longer has)
# Values arrive as positional parameters, never inside the script text.
# header.sh is prepended (header_app).
#
# It runs on every host on every run (a no-op apply is mostly this), so it
# starts a fixed handful of processes whatever the size of the app: one awk
# for every manifest, one wc and one cat for every unit file, one systemctl,
# and the read, cd and pwd builtins for the rest.
set -u
LC_ALL=C
export LC_ALL
root=$1 app=$2 unitdir=$3 statedir=$4 props=$5 audit=$6 ledger=$7 shadowdirs=$8 nfiles=$9
shift 9
nl='
'

# Processes' working directories are read resolved (pwd -P below): the
# root they are compared with must be resolved the same way, or a root
# reached through a symlink (/opt -> /data/opt) never matches.
if real=$(cd -- "$root" 2>/dev/null && pwd -P); then printf 'realroot %s\n' "$real"; fi
cur=$(readlink -- "$root/current" 2>/dev/null) && printf 'current %s\n' "${cur##*/}"

manifests=''
if [ -d "$root/releases" ]; then
	for d in "$root"/releases/* "$root"/releases/.*.partial; do
		[ -d "$d" ] || continue
		id=${d##*/}
		case $id in
		.*.partial) printf 'partial %s\n' "$id"; continue ;;
		*[!0-9A-Za-z.-]*) continue ;; # not a release id: never one of ours
		esac
		if [ -s "$d/.manifest" ]; then
			manifests=$manifests$d/.manifest$nl
		elif [ -f "$d/.manifest" ]; then
			printf 'manifest %s\n' "$id"
		else
			# A release made before manifests existed: hash it once here.
			printf 'manifest %s\n' "$id"
			(cd "$d" && find . -type f ! -name .manifest -exec sha256sum {} + 2>/dev/null) |
				sed 's|^\([0-9a-f]*\)  \./|m \1  |'
		fi
	done
fi
if [ -n "$manifests" ]; then
	(
		IFS=$nl
		set -f
		# shellcheck disable=SC2086 # split on newlines only: one path each
		awk 'FNR == 1 { n = split(FILENAME, p, "/"); print "manifest " p[n - 1] } { print "m " $0 }' $manifests
	)
fi

for f in "$unitdir"/*.service "$unitdir"/*.target "$unitdir"/*.service.d/release.conf; do
	[ -f "$f" ] || continue
	first=
	IFS= read -r first <"$f" || true
	rel=${f#"$unitdir"/}
	case $first in
	"# Managed by openim-deploy (app=$app)"*) printf 'owned %s\n' "$rel" ;;
	"# Managed by openim-deploy:"*)
		# Written by a version of the tool that did not name the app.
		if [ "$rel" = "$app.target" ] || grep -qx "PartOf=$app.target" "$f"; then
			printf 'owned %s\n' "$rel"
		fi
		;;
	esac
done

for f in "$unitdir/$app.target.wants"/*; do
	[ -e "$f" ] || [ -L "$f" ] || continue
	printf 'wants %s\n' "${f##*/}"
done

for f in "$statedir/ran"/*; do
	[ -f "$f" ] || continue
	fp=''
	IFS= read -r fp <"$f" || true
	printf 'ran %s %s\n' "${f##*/}" "$fp"
done

if [ -f "$statedir/credential.key" ]; then
	k=''
	IFS= read -r k <"$statedir/credential.key" || true
	printf 'credkey %s\n' "$k"
fi

if [ "$audit" -gt 0 ] && [ -f "$statedir/audit.log" ]; then
	tail -n "$audit" "$statedir/audit.log" | sed 's/^/audit /'
fi

if [ "$ledger" = 1 ] && [ -f "$statedir/ledger" ]; then
	sed 's/^/ledger /' "$statedir/ledger"
fi

# The requested files are every path apply would write for APP: one that
# is there without APP's header (header_app, from header.sh) is someone
# else's, and the plan refuses the host rather than write over it. A
# header that names no app is this tool's from before apps were named.
have=''
i=0
while [ "$i" -lt "$nfiles" ]; do
	f=$unitdir/$1
	if [ -L "$f" ]; then
		printf 'foreign %s link %s\n' "$1" "$(readlink -- "$f")"
	elif [ -f "$f" ]; then
		first=
		IFS= read -r first <"$f" || true
		if ! header_app "$first" || { [ -n "$hdr_app" ] && [ "$hdr_app" != "$app" ]; }; then
			printf 'foreign %s file %s\n' "$1" "$first"
		fi
	elif [ -e "$f" ]; then
		printf 'foreign %s other\n' "$1"
	else
		case $1 in
		*/*) ;; # a drop-in: systemd reads those from every directory
		*)
			IFS=:
			for d in $shadowdirs; do
				if [ -e "$d/$1" ] || [ -L "$d/$1" ]; then
					printf 'foreign %s shadows %s\n' "$1" "$d/$1"
					break
				fi
			done
			IFS=' 	
'
			;;
		esac
	fi
	[ -f "$f" ] && have=$have$1$nl
	shift
	i=$((i + 1))
done
if [ -n "$have" ]; then
	(
		cd -- "$unitdir" || exit 1
		IFS=$nl
		set -f
		printf 'sizes\n'
		# shellcheck disable=SC2086 # split on newlines only: one name each
		wc -c -- $have || exit 1
		printf 'endsizes\n'
		# shellcheck disable=SC2086
		cat -- $have
	) || exit 1
fi

if [ "$ledger" = 1 ]; then
	for f in "$unitdir/$app.target.wants"/*; do
		[ -e "$f" ] || [ -L "$f" ] || continue
		w=${f##*/}
		asked=0
		for u in "$@"; do
			if [ "$u" = "$w" ]; then asked=1; break; fi
		done
		if [ "$asked" = 0 ]; then
			printf 'extra %s\n' "$w"
			set -- "$@" "$w"
		fi
	done
fi

if [ $# -gt 0 ]; then
	out=$(systemctl show -p "$props" -- "$@") || exit 1
	printf 'show\n%s\nendshow\n' "$out"
	# The release a main process runs is its working directory, read by
	# cd and pwd -P (builtins) rather than one readlink per process.
	while IFS='=' read -r k v; do
		if [ "$k" = MainPID ] && [ "$v" != 0 ] && cd "/proc/$v/cwd" 2>/dev/null; then
			printf 'pid %s ' "$v"
			pwd -P 2>/dev/null || echo
		fi
	done <<EOF
$out
EOF
fi
exit 0
