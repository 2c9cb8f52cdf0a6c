package phase

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"slices"
	"sync"

	"github.com/openimsdk/openim-deploy/internal/plan"
	"github.com/openimsdk/openim-deploy/internal/preflight"
	"github.com/openimsdk/openim-deploy/internal/release"
	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/ui"
)

// PushRelease builds the new release on every host that needs one: files
// already on the host (in any release, under any name) are hard-linked,
// the rest is uploaded once, and the release is renamed into place with
// its manifest only once complete. Nothing points at it yet: instances move
// to it one by one when they are restarted, and current follows once every
// instance on the host runs it. Partial releases of interrupted runs are
// removed here, under the lock.
type PushRelease struct{}

// Title implements Phase.
func (PushRelease) Title() string { return "Push release" }

// Skip implements Skipper.
func (PushRelease) Skip(r *Run) (string, bool) {
	for _, h := range r.Usable() {
		if h.Plan != nil && (h.Plan.NewRelease || h.Plan.CleanPartials) {
			return "", false
		}
	}
	return "every host already has the wanted release", true
}

// Run implements Phase.
func (PushRelease) Run(ctx context.Context, r *Run) error {
	if err := checkSFTP(ctx, r); err != nil {
		return err
	}
	progress := startUploadProgress(r)
	defer progress.Done()
	z := newGzipUploads(r.Config.Playbook.App.Compress)
	defer z.Close()
	return r.EachHost(ctx, func(ctx context.Context, h *Host) error {
		hp := h.Plan
		if hp == nil {
			return nil
		}
		var err error
		switch {
		case hp.NewRelease:
			err = pushRelease(ctx, r, h, progress, z.forHost(ctx, r, h))
		case hp.CleanPartials:
			err = r.releaseHost(h).Clean(ctx)
		}
		if err != nil {
			h.Fail(OutcomeFailed, err)
			r.Out.HostError(h.Config.Name, "push release: %v", err)
			return err
		}
		return nil
	})
}

// checkSFTP opens the SFTP subsystem of every host that has files to
// receive, before any host is changed: pre-flight no longer opens it (a
// run with nothing to send never does), so a host whose sshd lacks it is
// refused here, all or nothing, as pre-flight would have.
func checkSFTP(ctx context.Context, r *Run) error {
	var refused []error
	var mu sync.Mutex
	_ = r.EachHost(ctx, func(ctx context.Context, h *Host) error {
		if h.Plan == nil || !h.Plan.NewRelease || len(h.Plan.Uploads) == 0 {
			return nil
		}
		if _, err := target.ReadOnly(h.Target).Stat(ctx, "/"); err != nil && ctx.Err() == nil {
			err = fmt.Errorf("%s: SFTP subsystem unavailable: %w (enable \"Subsystem sftp\" in sshd_config)", preflight.CheckSFTP, err)
			h.Fail(OutcomeFailed, err)
			r.Out.HostError(h.Config.Name, "refused: %v", err)
			mu.Lock()
			refused = append(refused, fmt.Errorf("%s: %w", h, err))
			mu.Unlock()
		}
		return nil
	})
	if len(refused) > 0 {
		return fmt.Errorf("%w: no host was changed:\n%w", preflight.ErrRefused, errors.Join(refused...))
	}
	return ctx.Err()
}

func pushRelease(ctx context.Context, r *Run, h *Host, progress *ui.Transfer, z *gzipUploads) error {
	defer progress.HostDone()
	hp := h.Plan
	rh := r.releaseHost(h)
	owner := ""
	if h.Config.User != "root" {
		owner = h.Config.User // uploads run as the login user, over SFTP
	}
	links := make([]release.Link, len(hp.Links))
	for i, l := range hp.Links {
		links[i] = release.Link{From: l.From, To: l.To, Mode: l.Mode}
	}
	if err := rh.Prepare(ctx, hp.Release, owner, r.Config.Playbook.App.User, releaseDirs(hp), links); err != nil {
		return err
	}
	partial := rh.PartialDir(hp.Release)
	var sent, wire int64
	for _, a := range hp.Uploads {
		n, err := upload(ctx, h.Target, a, path.Join(partial, a.Rel), progress, z)
		if err != nil {
			return err
		}
		sent += a.Size
		wire += n
		if !a.Secret && n != a.Size {
			r.Out.Verbose("[%s] sent %s (%d bytes, %d gzipped)", h.Config.Name, a.Rel, a.Size, n)
		} else if !a.Secret {
			r.Out.Verbose("[%s] sent %s (%d bytes)", h.Config.Name, a.Rel, a.Size)
		}
	}
	dups := make([]release.Link, len(hp.Dups))
	for i, l := range hp.Dups {
		dups[i] = release.Link{From: l.From, To: l.To, Mode: l.Mode}
	}
	var owned, sentFiles []string
	for _, a := range hp.Uploads {
		if a.AppOwned {
			owned = append(owned, a.Rel)
		}
		sentFiles = append(sentFiles, a.Rel)
	}
	if err := rh.Finalize(ctx, hp.Release, dups, hp.Manifest, r.Config.Playbook.App.User, owned, sentFiles); err != nil {
		return err
	}
	h.mu.Lock()
	h.pushed = true
	h.mu.Unlock()
	h.Changed(1)
	gz := ""
	if wire != sent {
		gz = fmt.Sprintf(", %d on the wire (gzip)", wire)
	}
	r.Out.Host(h.Config.Name, "release %s: %d files sent (%d bytes%s), %d already on the host",
		hp.Release, len(hp.Uploads), sent, gz, len(hp.Links)+len(hp.Dups))
	return nil
}

// releaseDirs lists every directory the new release needs, sorted, which
// puts every parent before its children ("a" < "a/b").
func releaseDirs(hp *plan.HostPlan) []string {
	dirs := map[string]bool{}
	for rel := range hp.Manifest {
		for d := path.Dir(rel); d != "." && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	return slices.Sorted(maps.Keys(dirs))
}

// upload sends a to dst and returns the bytes put on the wire: gzipped on
// an exec session when z (nil: never) says so, else as it is over SFTP.
func upload(ctx context.Context, t target.Target, a plan.Artifact, dst string, progress *ui.Transfer, z *gzipUploads) (int64, error) {
	if z != nil {
		if n, sent, err := z.upload(ctx, t, a, dst, progress); sent || err != nil {
			return n, err
		}
	}
	var src io.Reader
	if a.Content != nil {
		src = bytes.NewReader(a.Content)
	} else {
		f, err := os.Open(a.Local)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		src = f
	}
	src = progress.Reader(src) // counts bytes for the terminal's status line
	// Staged: finalize checks every file sent against the manifest in one
	// sha256sum before the release exists, instead of a session per file.
	if err := target.StageFile(ctx, t, dst, src, a.Mode); err != nil {
		return 0, fmt.Errorf("upload %s: %w", a.Rel, err)
	}
	return a.Size, nil
}
