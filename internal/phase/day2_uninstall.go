package phase

import (
	"context"
	"fmt"
		"strings"

	"github.com/openimsdk/openim-deploy/internal/layout"
	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/unit"
)

// Uninstall removes what openim-deploy installed for the app from every
// host: it stops and disables the app's units, deletes their unit files,
// managed drop-ins and the app target, and reloads systemd. With Purge it
// also deletes the app root (every release) and the tool's state for the
// app. It is idempotent: a second run finds nothing and says so.
//
// Only files that are ours are touched: a unit file or drop-in is removed
// when its name is one the playbook gives the app AND its first line is
// openim-deploy's header (naming this app, when the header names one). A
// unit someone else wrote under the same name is left alone, and so is a
// drop-in directory that holds files of their own.
type Uninstall struct {
	Purge bool
}

// Title implements Phase.
func (Uninstall) Title() string { return "Uninstall" }

// Run implements Phase.
func (u Uninstall) Run(ctx context.Context, r *Run) error {
	app := r.Config.Playbook.App
	if err := checkPurgeRoot(app.Root); u.Purge && err != nil {
		return err
	}
	names := appUnitNames(r)
	purge := "0"
	if u.Purge {
		purge = "1"
	}
	_ = r.EachHost(ctx, func(ctx context.Context, h *Host) error {
		args := append([]string{"sh", "-s", "--", app.Name, app.Root, purge}, names...)
		res, err := h.Target.Run(ctx, target.Cmd{Args: args, Stdin: strings.NewReader(uninstallScript), Sudo: true})
		if err != nil {
			h.Fail(OutcomeFailed, err)
			r.Out.HostError(h.Config.Name, "%v", err)
			return err
		}
		lines := strings.Split(strings.TrimSpace(string(res.Stdout)), "\n")
		if len(lines) == 1 && lines[0] == "" {
			r.Out.Host(h.Config.Name, "nothing of %s is installed", app.Name)
			return nil
		}
		for _, l := range lines {
			r.Out.Host(h.Config.Name, "%s", l)
		}
		h.Changed(len(lines))
		return nil
	})
	return hostErrors(r)
}

// checkPurgeRoot refuses to purge a system or shared directory as an app
// root: config validation already refuses one (layout.RootRefusal), and
// before removing anything a second check is cheap.
func checkPurgeRoot(root string) error {
	if why := layout.RootRefusal(root); why != "" {
		return fmt.Errorf("refusing to purge app root %q: %s", root, why)
	}
	return nil
}

// appUnitNames lists every unit name the playbook gives the app, on any
// host: unit files (task units, service templates, the target) and every
// service instance, so units left by an earlier placement go too.
func appUnitNames(r *Run) []string {
	pb := r.Config.Playbook
	var names []string
	for _, t := range pb.Tasks {
		names = append(names, unit.TaskUnitName(t.Name))
	}
	for _, s := range pb.Services {
		names = append(names, unit.TemplateName(s.Name))
		for _, in := range s.Instances {
			names = append(names, unit.InstanceName(s.Name, in.Name))
		}
	}
	return append(names, unit.TargetName(pb.App.Name))
}

// uninstallScript runs as "sh -s -- APP ROOT PURGE UNIT...". It prints one
// line per thing it removed; nothing when there was nothing.
const uninstallScript = `set -u
app=$1 root=$2 purge=$3
shift 3
dir=/etc/systemd/system
state=/var/lib/openim-deploy

# managed FILE: FILE is a regular file whose first line is openim-deploy's
# header, and the header names this app when it names one.
managed() {
	[ -f "$1" ] && [ ! -L "$1" ] || return 1
	first=
	IFS= read -r first <"$1" || [ -n "$first" ] || return 1
	case $first in "# Managed by openim-deploy"*) ;; *) return 1 ;; esac
	case $first in
	*app=*)
		tag=${first#*app=}
		tag=${tag%%[!A-Za-z0-9._-]*}
		[ "$tag" = "$app" ] ;;
	esac
}

owned=
for u in "$@"; do
	case $u in *@?*.service) continue ;; esac
	if managed "$dir/$u"; then owned="$owned $u"; fi
done

# ours NAME: NAME's unit file (its template's, for an instance) is ours.
ours() {
	case $1 in *@?*.service) f="${1%%@*}@.service" ;; *) f=$1 ;; esac
	case " $owned " in *" $f "*) return 0 ;; esac
	return 1
}

loaded=
for u in "$@"; do
	case $u in *@.service) continue ;; esac
	ours "$u" || continue
	[ "$(systemctl show -p LoadState --value -- "$u" 2>/dev/null)" = loaded ] && loaded="$loaded $u"
done
if [ -n "$loaded" ]; then
	# One call: systemd orders the stop jobs by the units' After= edges,
	# dependents first, and waits for each unit's stop timeout.
	systemctl stop -- $loaded || exit 1
	systemctl disable -- $loaded >/dev/null 2>&1
	echo "stopped and disabled$loaded"
fi

for u in $owned; do
	rm -f -- "$dir/$u" && echo "removed $dir/$u"
done

clean_dropins() {
	d=$1
	[ -d "$d" ] && [ ! -L "$d" ] || return 0
	for f in "$d"/* "$d"/.[!.]*; do
		[ -e "$f" ] || continue
		if managed "$f"; then rm -f -- "$f" && echo "removed $f"; fi
	done
	if rmdir -- "$d" 2>/dev/null; then
		echo "removed $d/"
	else
		echo "kept $d/: it holds files openim-deploy did not write"
	fi
}
for u in "$@"; do
	case $u in
	*@.service) for d in "$dir/${u%%@*}"@*.service.d; do clean_dropins "$d"; done ;;
	*@?*.service) ;; # its template's pattern covers it
	*) clean_dropins "$dir/$u.d" ;;
	esac
done

if [ -n "$owned" ] || [ -n "$loaded" ]; then
	systemctl daemon-reload || exit 1
	[ -z "$loaded" ] || systemctl reset-failed -- $loaded >/dev/null 2>&1
fi

if [ "$purge" = 1 ]; then
	if [ -e "$root" ] || [ -L "$root" ]; then
		rm -rf -- "$root" && echo "removed $root/"
	fi
	# <app> and <app>.*, never a prefix match: app "im" must not take "im2".
	# The lock is ours while we run; releasing it at the end removes it.
	for f in "$state/$app" "$state/$app".*; do
		[ -e "$f" ] || [ -L "$f" ] || continue
		case $f in "$state/$app.lock" | "$state/$app.lock".*) continue ;; esac
		rm -rf -- "$f" && echo "removed $f"
	done
fi
exit 0
`
