package phase

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"

	"github.com/openimsdk/openim-deploy/internal/layout"
	"github.com/openimsdk/openim-deploy/internal/plan"
	"github.com/openimsdk/openim-deploy/internal/target"
)

// PushRelease builds a new release directory on every host whose release
// files changed, then switches <root>/current to it atomically. Unchanged
// files are hard-linked from the current release, so only changed bytes
// cross the network. The release is assembled under a hidden ".partial"
// name and renamed into place only once complete: a failed or interrupted
// push never leaves a half release that current could point to.
type PushRelease struct{}

// Title implements Phase.
func (PushRelease) Title() string { return "Push release" }

// Skip implements Skipper.
func (PushRelease) Skip(r *Run) (string, bool) {
	for _, h := range r.Usable() {
		if h.Plan != nil && h.Plan.NewRelease {
			return "", false
		}
	}
	return "every host already runs the wanted release files", true
}

// Run implements Phase.
func (PushRelease) Run(ctx context.Context, r *Run) error {
	lay := layout.Layout{Root: r.Config.Playbook.App.Root}
	return r.EachHost(ctx, func(ctx context.Context, h *Host) error {
		if h.Plan == nil || !h.Plan.NewRelease {
			return nil
		}
		if err := pushRelease(ctx, r, h, lay); err != nil {
			h.Fail(OutcomeFailed, err)
			r.Out.HostError(h.Config.Name, "push release: %v", err)
			return err
		}
		h.Changed(1)
		return nil
	})
}

// prepareScript creates the app user and the partial release directory,
// then links unchanged files from the current release.
const prepareScript = `set -e
root=$1 id=$2 owner=$3 appuser=$4; shift 4
if ! id -u "$appuser" >/dev/null 2>&1; then
  if command -v useradd >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir "$root" --shell /usr/sbin/nologin "$appuser"
  else
    adduser -S -H -h "$root" -s /sbin/nologin "$appuser"
  fi
fi
mkdir -p "$root/releases"
new="$root/releases/.$id.partial"
rm -rf "$new"
mkdir -p "$new"
mode=dirs
for rel in "$@"; do
  if [ "$rel" = "::link" ]; then mode=link; continue; fi
  if [ $mode = dirs ]; then mkdir -p "$new/$rel"; continue; fi
  ln "$root/current/$rel" "$new/$rel" 2>/dev/null || cp -p "$root/current/$rel" "$new/$rel"
done
if [ -n "$owner" ]; then find "$new" -type d -exec chown "$owner" {} +; fi
`

// finalizeScript makes the release root-owned, renames it into place,
// switches current with a temp symlink plus rename (atomic), and prunes old
// releases beyond keep, never the new or the previous one.
const finalizeScript = `set -e
root=$1 id=$2 prev=$3 keep=$4
new="$root/releases/.$id.partial"
chown -R root:root "$new"
chmod 0755 "$new"
if [ -d "$new/env" ]; then chmod 0700 "$new/env"; find "$new/env" -type f -exec chmod 0600 {} +; fi
mv "$new" "$root/releases/$id"
ln -sfn "releases/$id" "$root/.current.tmp"
mv -T "$root/.current.tmp" "$root/current"
cd "$root/releases"
n=0
for d in $(ls -1 | sort -r); do
  n=$((n+1))
  [ "$d" = "$id" ] || [ "$d" = "$prev" ] && continue
  [ $n -gt "$keep" ] && rm -rf -- "$d"
done
exit 0
`

func pushRelease(ctx context.Context, r *Run, h *Host, lay layout.Layout) error {
	hp := h.Plan
	id := r.Opts.ReleaseID
	owner := ""
	if h.Config.User != "root" {
		owner = h.Config.User
	}
	args := []string{"sh", "-c", prepareScript, "sh", lay.Root, id, owner, r.Config.Playbook.App.User}
	args = append(args, releaseDirs(hp)...)
	args = append(args, "::link")
	args = append(args, hp.Reuse...)
	if _, err := h.Target.Run(ctx, target.Cmd{Args: args, Sudo: h.Config.Become}); err != nil {
		return fmt.Errorf("prepare release %s: %w", id, err)
	}
	partial := path.Join(lay.Releases(), "."+id+".partial")
	var sent int64
	for _, a := range hp.Uploads {
		if err := upload(ctx, h.Target, a, path.Join(partial, a.Rel)); err != nil {
			return err
		}
		sent += a.Size
		if !a.Secret {
			r.Out.Verbose("[%s] sent %s (%d bytes)", h.Config.Name, a.Rel, a.Size)
		}
	}
	keep := r.Config.Playbook.App.KeepReleases
	fin := []string{"sh", "-c", finalizeScript, "sh", lay.Root, id, hp.PreviousRelease, strconv.Itoa(keep)}
	if _, err := h.Target.Run(ctx, target.Cmd{Args: fin, Sudo: h.Config.Become}); err != nil {
		return fmt.Errorf("switch current to release %s: %w", id, err)
	}
	r.Out.Host(h.Config.Name, "release %s: %d files sent (%d bytes), %d reused; current -> releases/%s",
		id, len(hp.Uploads), sent, len(hp.Reuse), id)
	return nil
}

// releaseDirs lists every directory the new release needs, parents first.
func releaseDirs(hp *plan.HostPlan) []string {
	seen := map[string]bool{}
	var dirs []string
	var add func(string)
	add = func(d string) {
		if d == "." || d == "" || seen[d] {
			return
		}
		add(path.Dir(d))
		seen[d] = true
		dirs = append(dirs, d)
	}
	for _, a := range hp.Uploads {
		add(path.Dir(a.Rel))
	}
	for _, rel := range hp.Reuse {
		add(path.Dir(rel))
	}
	return dirs
}

func upload(ctx context.Context, t target.Target, a plan.Artifact, dst string) error {
	var src io.Reader
	if a.Content != nil {
		src = bytes.NewReader(a.Content)
	} else {
		f, err := os.Open(a.Local)
		if err != nil {
			return err
		}
		defer f.Close()
		src = f
	}
	if err := t.WriteFile(ctx, dst, src, a.Mode); err != nil {
		return fmt.Errorf("upload %s: %w", a.Rel, err)
	}
	return nil
}
