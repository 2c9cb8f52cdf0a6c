# shellcheck shell=sh
# uninstall.sh APP ROOT UNITDIR STATEDIR MODE UNIT...
#
# Removes what openim-deploy installed for APP on this host, by exact name,
# and prints one line per path removed or kept: nothing at all when
# nothing of APP is here. MODE is "units" (stop, disable and remove the
# units), "purge" (that, then the app's releases and state) or "preview"
# (print "remove PATH" for every path a purge would remove; change
# nothing). UNIT... are the unit names the playbook gives the app.
#
# What is the tool's:
#   - a unit file or drop-in named by the playbook (UNIT...) or listed in
#     the record STATEDIR/owned (see own.sh), whose first line is
#     openim-deploy's header naming APP (or naming no app: older
#     versions). A file someone else wrote under the same name stays, and
#     so does a drop-in directory that holds files of theirs.
#   - ROOT/releases and ROOT/current: the layout's names, which the tool
#     has always pruned and replaced, recorded or not.
#   - ROOT itself only when the record says the tool created it, and only
#     when it is empty once releases/ and current are gone: a root that
#     also holds data/ is kept, and named.
#   - STATEDIR (/var/lib/openim-deploy/APP): the tool's own state. Never a
#     sibling: "APP.v2" and "APP.lock" belong to another app or the lock.
# A host deployed by a version without the record is handled the same
# way, except that ROOT is kept (nothing says the tool created it) and the
# drop-ins of a template's old instances are found by "TEMPLATE@*.service.d"
# (their files still header-checked).
set -u
LC_ALL=C
export LC_ALL
app=$1 root=$2 dir=$3 statedir=$4 mode=$5
shift 5
record=$statedir/owned

# recorded PATH: PATH is listed in the record.
recorded() {
	[ -f "$record" ] && grep -qxF -- "$1" "$record"
}

# managed FILE: FILE is a regular file whose first line is openim-deploy's
# header, and the header names this app when it names one (header_app,
# from header.sh, which is prepended: the same reading as gather and
# install).
managed() {
	[ -f "$1" ] && [ ! -L "$1" ] || return 1
	first=
	IFS= read -r first <"$1" || [ -n "$first" ] || return 1
	header_app "$first" && { [ -z "$hdr_app" ] || [ "$hdr_app" = "$app" ]; }
}

# The unit names to look at: the playbook's, then the record's (a unit
# file, a drop-in directory, or a file in one), each once.
names=" "
add_name() {
	case $names in *" $1 "*) ;; *) names="$names$1 " ;; esac
}
dropins=" "
add_dropin() {
	case $dropins in *" $1 "*) ;; *) dropins="$dropins$1 " ;; esac
}
for u in "$@"; do add_name "$u"; done
if [ -f "$record" ]; then
	while IFS= read -r p; do
		case $p in "$dir"/*) ;; *) continue ;; esac
		rel=${p#"$dir"/}
		case $rel in
		*/* | *.d) # a drop-in directory or a file in one: the unit it is for
			d=${rel%%/*}
			add_name "${d%.d}" ;;
		*.service | *.target) add_name "$rel" ;;
		esac
	done <"$record"
fi
for u in $names; do
	case $u in
	*@.service)
		# Legacy hosts only: a template's instances of earlier placements.
		[ -f "$record" ] || for d in "$dir/${u%%@*}"@*.service.d; do
			[ -d "$d" ] && add_dropin "${d##*/}"
		done ;;
	*) add_dropin "$u.d" ;;
	esac
done

owned=
for u in $names; do
	case $u in *@?*.service) continue ;; esac
	if managed "$dir/$u"; then owned="$owned $u"; fi
done

# ours NAME: NAME's unit file (its template's, for an instance) is ours.
ours() {
	case $1 in *@?*.service) f="${1%%@*}@.service" ;; *) f=$1 ;; esac
	case " $owned " in *" $f "*) return 0 ;; esac
	return 1
}

# The paths a purge removes, in order: current first, so nothing points
# into releases/ while it goes.
purge_paths() {
	for p in "$root/current" "$root/.current.tmp"; do
		[ -L "$p" ] && echo "$p"
	done
	[ -d "$root/releases" ] || [ -L "$root/releases" ] && echo "$root/releases"
	[ -d "$statedir" ] && [ ! -L "$statedir" ] && echo "$statedir"
	return 0
}

# foreign ROOT: what ROOT holds besides what a purge removes, by name.
foreign() {
	(
		cd -- "$1" 2>/dev/null || exit 0
		for f in * .[!.]* ..?*; do
			[ -e "$f" ] || [ -L "$f" ] || continue
			case $f in releases | current | .current.tmp) continue ;; esac
			if [ -d "$f" ]; then printf '%s/ ' "$f"; else printf '%s ' "$f"; fi
		done
	)
}

if [ "$mode" = preview ]; then
	for u in $owned; do echo "remove $dir/$u"; done
	purge_paths | sed 's/^/remove /'
	if [ -d "$root" ] && recorded "$root" && [ -z "$(foreign "$root")" ]; then
		echo "remove $root"
	fi
	exit 0
fi

loaded=
for u in $names; do
	case $u in *@.service) continue ;; esac
	ours "$u" || continue
	[ "$(systemctl show -p LoadState --value -- "$u" 2>/dev/null)" = loaded ] && loaded="$loaded $u"
done
if [ -n "$loaded" ]; then
	# One call: systemd orders the stop jobs by the units' After= edges,
	# dependents first, and waits for each unit's stop timeout.
	# shellcheck disable=SC2086 # unit names, split on blanks
	systemctl stop -- $loaded || exit 1
	# shellcheck disable=SC2086
	systemctl disable -- $loaded >/dev/null 2>&1
	echo "stopped and disabled$loaded"
fi

for u in $owned; do
	rm -f -- "$dir/$u" && echo "removed $dir/$u"
done

for d in $dropins; do
	d=$dir/$d
	if [ ! -d "$d" ] || [ -L "$d" ]; then continue; fi
	for f in "$d"/* "$d"/.[!.]*; do
		[ -e "$f" ] || continue
		if managed "$f"; then rm -f -- "$f" && echo "removed $f"; fi
	done
	if rmdir -- "$d" 2>/dev/null; then
		echo "removed $d/"
	else
		echo "kept $d/: it holds files openim-deploy did not write"
	fi
done
# Emptied by "systemctl disable"; kept if something else is enabled there.
[ ! -d "$dir/$app.target.wants" ] || rmdir -- "$dir/$app.target.wants" 2>/dev/null || true

if [ -n "$owned" ] || [ -n "$loaded" ]; then
	systemctl daemon-reload || exit 1
	# shellcheck disable=SC2086
	[ -z "$loaded" ] || systemctl reset-failed -- $loaded >/dev/null 2>&1
fi

[ "$mode" = purge ] || exit 0
# Read before the state directory (and the record in it) goes.
created_root=
if recorded "$root"; then created_root=1; fi
purged=
for p in $(purge_paths); do
	# Exact names from purge_paths; a symlink itself, never what it points to.
	if [ -L "$p" ]; then rm -f -- "$p"; else rm -rf -- "$p"; fi || exit 1
	echo "removed $p"
	purged=1
done
# The root is only reported on a run that purged something: a second
# purge finds nothing to say.
if [ -n "$purged" ] && [ -d "$root" ] && [ ! -L "$root" ]; then
	held=$(foreign "$root")
	if [ -n "$held" ]; then
		echo "kept $root: it holds ${held% } that openim-deploy did not create"
	elif [ -z "$created_root" ]; then
		echo "kept $root: empty, but openim-deploy did not create it"
	elif rmdir -- "$root"; then
		echo "removed $root"
	fi
fi
exit 0
