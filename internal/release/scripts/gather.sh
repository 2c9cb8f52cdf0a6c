# shellcheck shell=sh
# gather.sh ROOT APP UNITDIR STATEDIR PROPS NFILES FILE... UNIT...
#
# Prints, read-only, everything the plan needs about one app on this host:
#   current ID                 the release <root>/current points to
#   manifest ID                a completed release; its "sha256  path" lines follow as "m ..."
#   partial NAME               a release left half built by an interrupted run
#   owned PATH                 a file under UNITDIR this tool installed for APP
#   wants NAME                 an entry of APP.target.wants
#   ran TASK FINGERPRINT       the inputs a task last succeeded with
#   file NAME LENGTH           then LENGTH bytes: an installed unit file or drop-in
#   show ... endshow           "systemctl show" of every UNIT, in argument order
#   pid PID CWD                the working directory of each main process
#   audit LINE                 the last lines of the app's audit log
# Values arrive as positional parameters, never inside the script text.
set -u
LC_ALL=C
export LC_ALL
root=$1 app=$2 unitdir=$3 statedir=$4 props=$5 nfiles=$6
shift 6

cur=$(readlink -- "$root/current" 2>/dev/null) && printf 'current %s\n' "${cur##*/}"

if [ -d "$root/releases" ]; then
	for d in "$root"/releases/* "$root"/releases/.*.partial; do
		[ -d "$d" ] || continue
		id=${d##*/}
		case $id in
		.*.partial) printf 'partial %s\n' "$id"; continue ;;
		esac
		printf 'manifest %s\n' "$id"
		if [ -f "$d/.manifest" ]; then
			sed 's/^/m /' "$d/.manifest"
		else
			# A release made before manifests existed: hash it once here.
			(cd "$d" && find . -type f ! -name .manifest -exec sha256sum {} + 2>/dev/null) |
				sed 's|^\([0-9a-f]*\)  \./|m \1  |'
		fi
	done
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
	printf 'ran %s %s\n' "${f##*/}" "$(cat -- "$f")"
done

if [ -f "$statedir/audit.log" ]; then
	tail -n 20 "$statedir/audit.log" | sed 's/^/audit /'
fi

i=0
while [ "$i" -lt "$nfiles" ]; do
	f=$unitdir/$1
	shift
	i=$((i + 1))
	[ -f "$f" ] || continue
	printf 'file %s %s\n' "${f#"$unitdir"/}" "$(wc -c <"$f" | tr -d ' ')"
	cat -- "$f"
done

if [ $# -gt 0 ]; then
	out=$(systemctl show -p "$props" -- "$@") || exit 1
	printf 'show\n%s\nendshow\n' "$out"
	printf '%s\n' "$out" | while IFS='=' read -r k v; do
		if [ "$k" = MainPID ] && [ "$v" != 0 ]; then
			printf 'pid %s %s\n' "$v" "$(readlink "/proc/$v/cwd" 2>/dev/null)"
		fi
	done
fi
exit 0
