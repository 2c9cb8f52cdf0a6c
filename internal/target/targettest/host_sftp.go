package targettest

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"

	"github.com/pkg/sftp"
)

// rootFS is an sftp request-server handler backed by the real filesystem
// under root: every request path is mapped below root, so the SFTP view and
// the interpreter's view of "/etc/x" are the same file, and nothing escapes
// the test's temp dir. (sftp.WithServerWorkingDirectory alone only changes
// how relative paths resolve; absolute paths would still reach the real /.)
type rootFS struct {
	root string
	host *Host
	conn net.Conn // closed by the DropAfterBytes fault
}

var (
	_ sftp.FileReader           = (*rootFS)(nil)
	_ sftp.FileWriter           = (*rootFS)(nil)
	_ sftp.PosixRenameFileCmder = (*rootFS)(nil)
	_ sftp.LstatFileLister      = (*rootFS)(nil)
	_ sftp.ReadlinkFileLister   = (*rootFS)(nil)
)

func (r *rootFS) path(req *sftp.Request) string { return rooted(r.root, req.Filepath) }

func (r *rootFS) Fileread(req *sftp.Request) (io.ReaderAt, error) {
	return os.Open(r.path(req))
}

func (r *rootFS) Filewrite(req *sftp.Request) (io.WriterAt, error) {
	fl := req.Pflags()
	flags := os.O_WRONLY
	if fl.Read {
		flags = os.O_RDWR
	}
	if fl.Creat {
		flags |= os.O_CREATE
	}
	if fl.Trunc {
		flags |= os.O_TRUNC
	}
	if fl.Excl {
		flags |= os.O_EXCL
	}
	f, err := os.OpenFile(r.path(req), flags, 0o644)
	if err != nil {
		return nil, err
	}
	r.host.mu.Lock()
	limit, full := r.host.dropAfter, r.host.fullAfter
	r.host.dropAfter, r.host.fullAfter = 0, 0
	r.host.mu.Unlock()
	if limit > 0 {
		return &dropWriter{f: f, limit: limit, conn: r.conn}, nil
	}
	if full > 0 {
		return &dropWriter{f: f, limit: full}, nil
	}
	return f, nil
}

// dropWriter writes up to limit bytes, then kills the SSH connection, as a
// network failure in the middle of an upload would; with no conn it only
// fails the write (pkg/sftp answers SSH_FX_FAILURE), as a full disk does.
type dropWriter struct {
	f     *os.File
	conn  net.Conn
	mu    sync.Mutex
	n     int64
	limit int64
}

func (w *dropWriter) WriteAt(p []byte, off int64) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n+int64(len(p)) > w.limit {
		keep := w.limit - w.n
		if keep > 0 {
			_, _ = w.f.WriteAt(p[:keep], off)
			w.n += keep
		}
		if w.conn == nil {
			return int(max(keep, 0)), errors.New("targettest: disk full")
		}
		w.conn.Close()
		return int(max(keep, 0)), errors.New("targettest: connection dropped")
	}
	n, err := w.f.WriteAt(p, off)
	w.n += int64(n)
	return n, err
}

func (w *dropWriter) Close() error { return w.f.Close() }

func (r *rootFS) Filecmd(req *sftp.Request) error {
	p := r.path(req)
	switch req.Method {
	case "Setstat":
		return r.setstat(req, p)
	case "Rename":
		// SFTP v3 semantics: refuse to replace an existing file.
		if _, err := os.Lstat(rooted(r.root, req.Target)); err == nil {
			return os.ErrExist
		}
		return os.Rename(p, rooted(r.root, req.Target))
	case "Rmdir", "Remove":
		return os.Remove(p)
	case "Mkdir":
		return os.Mkdir(p, 0o755)
	case "Link":
		return os.Link(p, rooted(r.root, req.Target))
	case "Symlink":
		// The link target is stored verbatim, as sshd does.
		return os.Symlink(req.Target, p)
	}
	return sftp.ErrSSHFxOpUnsupported
}

// PosixRename replaces the target atomically (posix-rename@openssh.com).
func (r *rootFS) PosixRename(req *sftp.Request) error {
	return os.Rename(r.path(req), rooted(r.root, req.Target))
}

func (r *rootFS) setstat(req *sftp.Request, p string) error {
	fl, attrs := req.AttrFlags(), req.Attributes()
	if fl.Permissions {
		if err := os.Chmod(p, attrs.FileMode().Perm()); err != nil {
			return err
		}
	}
	if fl.Size {
		if err := os.Truncate(p, int64(attrs.Size)); err != nil {
			return err
		}
	}
	if fl.Acmodtime {
		if err := os.Chtimes(p, attrs.AccessTime(), attrs.ModTime()); err != nil {
			return err
		}
	}
	return nil
}

type listAt []os.FileInfo

func (l listAt) ListAt(dst []os.FileInfo, off int64) (int, error) {
	if off >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(dst, l[off:])
	if n < len(dst) {
		return n, io.EOF
	}
	return n, nil
}

func (r *rootFS) Filelist(req *sftp.Request) (sftp.ListerAt, error) {
	p := r.path(req)
	switch req.Method {
	case "List":
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		out := make(listAt, 0, len(entries))
		for _, e := range entries {
			if fi, err := e.Info(); err == nil {
				out = append(out, fi)
			}
		}
		return out, nil
	case "Stat":
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		return listAt{fi}, nil
	}
	return nil, sftp.ErrSSHFxOpUnsupported
}

func (r *rootFS) Lstat(req *sftp.Request) (sftp.ListerAt, error) {
	fi, err := os.Lstat(r.path(req))
	if err != nil {
		return nil, err
	}
	return listAt{fi}, nil
}

// Readlink returns a symlink's target verbatim.
func (r *rootFS) Readlink(p string) (string, error) {
	return os.Readlink(rooted(r.root, p))
}
