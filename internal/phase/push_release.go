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
	if len(hp.Credentials) > 0 {
		creds := make([]release.Credential, len(hp.Credentials))
		for i, a := range hp.Credentials {
			creds[i] = release.Credential{Name: a.Credential, Rel: a.Rel, Content: a.Content}
		}
		if err := rh.EncryptCredentials(ctx, hp.Release, h.newCredKey(), creds); err != nil {
			return err
		}
	}
	partial := rh.PartialDir(hp.Release)
	sent, wire, err := sendFiles(ctx, r, h, hp.Uploads, partial, progress, z)
	if err != nil {
		return err
	}
	if err := fetchFiles(ctx, r, h, rh, hp); err != nil {
		return err
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
	onWire := ""
	if wire != sent {
		onWire = fmt.Sprintf(", %d on the wire (gzip)", wire)
	}
	fetched := ""
	if len(hp.Fetches) > 0 {
		fetched = fmt.Sprintf(", %d fetched by the host", len(hp.Fetches))
	}
	r.Out.Host(h.Config.Name, "release %s: %d files sent (%d bytes%s)%s, %d already on the host",
		hp.Release, len(hp.Uploads), sent, onWire, fetched, len(hp.Links)+len(hp.Dups))
	return nil
}

// fetchFiles has the host download every artifact of the new release
// itself, one after another, each kept only when its SHA-256 is the one
// the playbook names; the controller sends none of their bytes. A failed
// download or a mismatch fails the host's push: the release is never
// committed, so nothing restarts on it.
func fetchFiles(ctx context.Context, r *Run, h *Host, rh release.Host, hp *plan.HostPlan) error {
	for _, a := range hp.Fetches {
		f := release.FetchFile{Rel: a.Rel, URL: a.Fetch.URL, SHA256: a.SHA256, Mode: a.Mode, Header: a.Fetch.Header}
		if err := rh.Fetch(ctx, hp.Release, f); err != nil {
			return err
		}
		r.Out.Verbose("[%s] fetched %s from %s", h.Config.Name, a.Rel, a.Fetch.URL)
	}
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

// sendFiles stages uploads under dir on h and returns their size and the
// bytes put on the wire. Files worth compressing (z says which; nil:
// none) go first, all on one exec session, decompressed by the host's own
// gzip; the rest, and all of them on a host that turns out to lack gzip,
// go as they are over SFTP. Finalize checks every one against the
// manifest afterwards.
func sendFiles(ctx context.Context, r *Run, h *Host, uploads []plan.Artifact, dir string, progress *ui.Transfer, z *gzipUploads) (sent, wire int64, err error) {
	gz, plain, err := z.batch(ctx, uploads, dir, progress)
	if err != nil {
		return 0, 0, err
	}
	n, err := target.StageFilesGzip(ctx, h.Target, gz)
	switch {
	case errors.Is(err, target.ErrNoGzip):
		r.Out.Host(h.Config.Name, "no gzip on the host: files are sent uncompressed over SFTP")
		plain = uploads
	case err != nil:
		return 0, 0, fmt.Errorf("upload: %w", err)
	default:
		wire += n
		for _, f := range gz {
			sent += f.Size
		}
		if len(gz) > 0 {
			r.Out.Verbose("[%s] sent %d files gzipped on one session (%d bytes, %d on the wire)", h.Config.Name, len(gz), sent, n)
		}
	}
	for _, a := range plain {
		if err := upload(ctx, h.Target, a, path.Join(dir, a.Rel), progress); err != nil {
			return 0, 0, err
		}
		sent += a.Size
		wire += a.Size
		if !a.Secret {
			r.Out.Verbose("[%s] sent %s (%d bytes)", h.Config.Name, a.Rel, a.Size)
		}
	}
	return sent, wire, nil
}

// upload sends a to dst as it is, over SFTP.
func upload(ctx context.Context, t target.Target, a plan.Artifact, dst string, progress *ui.Transfer) error {
	var src io.Reader
	content := a.Content
	if a.Builtin != nil {
		var err error
		if content, err = a.Builtin(); err != nil {
			return fmt.Errorf("upload %s: %w", a.Rel, err)
		}
	}
	if content != nil {
		src = bytes.NewReader(content)
	} else {
		f, err := os.Open(a.Local)
		if err != nil {
			return err
		}
		defer f.Close()
		src = f
	}
	src = progress.Reader(src) // counts bytes for the terminal's status line
	// Staged: finalize checks every file sent against the manifest in one
	// sha256sum before the release exists, instead of a session per file.
	if err := target.StageFile(ctx, t, dst, src, a.Mode); err != nil {
		return fmt.Errorf("upload %s: %w", a.Rel, err)
	}
	return nil
}
