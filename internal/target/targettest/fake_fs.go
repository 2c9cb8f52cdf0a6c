package targettest

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"time"
)

// File is one entry of a Fake's filesystem, as returned by Files.
type File struct {
	Data []byte
	// Mode holds the permission bits and the type: fs.ModeDir for
	// directories, fs.ModeSymlink for symlinks.
	Mode fs.FileMode
	// Link is the target of a symlink.
	Link    string
	ModTime time.Time
}

type memFS map[string]*File

// fakeEpoch is the modification time of every file: fixed, so tests are
// deterministic.
var fakeEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func newMemFS() memFS {
	return memFS{"/": {Mode: fs.ModeDir | 0o755, ModTime: fakeEpoch}}
}

func clean(p string) string {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return path.Clean(p)
}

// mkdirAll creates p and its parents as directories. f.mu must be held.
func (m memFS) mkdirAll(p string, perm fs.FileMode) error {
	p = clean(p)
	if e, ok := m[p]; ok {
		if !e.Mode.IsDir() {
			return &fs.PathError{Op: "mkdir", Path: p, Err: fs.ErrExist}
		}
		return nil
	}
	if p != "/" {
		if err := m.mkdirAll(path.Dir(p), perm); err != nil {
			return err
		}
	}
	m[p] = &File{Mode: fs.ModeDir | perm.Perm(), ModTime: fakeEpoch}
	return nil
}

// resolve follows symlinks in every element of p, at most 40 times in all.
func (m memFS) resolve(p string) (string, *File, error) {
	p = clean(p)
	hops := 0
restart:
	cur := "/"
	rest := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, name := range rest {
		if name == "" {
			continue
		}
		next := path.Join(cur, name)
		e, ok := m[next]
		if !ok {
			return next, nil, fs.ErrNotExist
		}
		if e.Mode&fs.ModeSymlink != 0 {
			if hops++; hops > 40 {
				return next, nil, fmt.Errorf("too many levels of symbolic links")
			}
			dest := e.Link
			if !path.IsAbs(dest) {
				dest = path.Join(cur, dest)
			}
			p = clean(path.Join(append([]string{dest}, rest[i+1:]...)...))
			goto restart
		}
		if i < len(rest)-1 && !e.Mode.IsDir() {
			return next, nil, fmt.Errorf("not a directory")
		}
		cur = next
	}
	return cur, m[cur], nil
}

// AddFile creates or replaces a regular file, creating missing parent
// directories (0755). It is for setting up a test; WriteFile is what code
// under test calls.
func (f *Fake) AddFile(p string, data []byte, mode fs.FileMode) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p = clean(p)
	if err := f.fs.mkdirAll(path.Dir(p), 0o755); err != nil {
		panic(fmt.Sprintf("targettest: AddFile %s: %v", p, err))
	}
	f.fs[p] = &File{Data: slices.Clone(data), Mode: mode.Perm(), ModTime: fakeEpoch}
}

// MkdirAll creates a directory and its parents, like os.MkdirAll.
func (f *Fake) MkdirAll(p string, perm fs.FileMode) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fs.mkdirAll(p, perm)
}

// Symlink creates link pointing at dest (which need not exist), creating
// missing parent directories of link.
func (f *Fake) Symlink(dest, link string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	link = clean(link)
	if err := f.fs.mkdirAll(path.Dir(link), 0o755); err != nil {
		panic(fmt.Sprintf("targettest: Symlink %s: %v", link, err))
	}
	f.fs[link] = &File{Mode: fs.ModeSymlink | 0o777, Link: dest, ModTime: fakeEpoch}
}

// Remove deletes one entry (a file, symlink or directory with its contents).
func (f *Fake) Remove(p string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p = clean(p)
	for k := range f.fs {
		if k == p || strings.HasPrefix(k, p+"/") {
			delete(f.fs, k)
		}
	}
	if p == "/" {
		f.fs["/"] = &File{Mode: fs.ModeDir | 0o755, ModTime: fakeEpoch}
	}
}

// SetWriteError installs fn, which WriteFile calls with the cleaned path
// before writing; a non-nil result fails the write and leaves the file as it
// was (the atomic-replace contract). Use it for fault tests.
func (f *Fake) SetWriteError(fn func(path string) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writeErr = fn
}

// Files returns a snapshot of the filesystem: every path, including "/" and
// other directories, mapped to a copy of its entry.
func (f *Fake) Files() map[string]File {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]File, len(f.fs))
	for k, v := range f.fs {
		c := *v
		c.Data = slices.Clone(v.Data)
		out[k] = c
	}
	return out
}

// Paths returns every path of the filesystem, sorted.
func (f *Fake) Paths() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Sorted(maps.Keys(f.fs))
}

// WriteFile implements target.Target: it replaces path (a symlink at path is
// replaced, not followed, as rename does). The parent directory must exist.
func (f *Fake) WriteFile(ctx context.Context, p string, r io.Reader, mode fs.FileMode) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("targettest: write %s: %w", p, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return fmt.Errorf("targettest: %s: write %s: target closed", f.name, p)
	}
	p = clean(p)
	if f.writeErr != nil {
		if err := f.writeErr(p); err != nil {
			return err
		}
	}
	dirPath, dir, err := f.fs.resolve(path.Dir(p))
	if err != nil {
		return &fs.PathError{Op: "write", Path: p, Err: err}
	}
	if !dir.Mode.IsDir() {
		return &fs.PathError{Op: "write", Path: p, Err: fmt.Errorf("parent is not a directory")}
	}
	p = path.Join(dirPath, path.Base(p))
	if e, ok := f.fs[p]; ok && e.Mode.IsDir() {
		return &fs.PathError{Op: "write", Path: p, Err: fmt.Errorf("is a directory")}
	}
	f.fs[p] = &File{Data: data, Mode: mode.Perm(), ModTime: fakeEpoch}
	return nil
}

// ReadFile implements target.Target, following symlinks.
func (f *Fake) ReadFile(ctx context.Context, p string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	_, e, err := f.fs.resolve(p)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: p, Err: err}
	}
	if e.Mode.IsDir() {
		return nil, &fs.PathError{Op: "read", Path: p, Err: fmt.Errorf("is a directory")}
	}
	return slices.Clone(e.Data), nil
}

// Stat implements target.Target. Like lstat, it does not follow a final
// symlink.
func (f *Fake) Stat(ctx context.Context, p string) (fs.FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	cp := clean(p)
	dir, _, err := f.fs.resolve(path.Dir(cp))
	if err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: p, Err: err}
	}
	e, ok := f.fs[path.Join(dir, path.Base(cp))]
	if !ok {
		return nil, &fs.PathError{Op: "lstat", Path: p, Err: fs.ErrNotExist}
	}
	return fileInfo{name: path.Base(cp), f: *e}, nil
}

type fileInfo struct {
	name string
	f    File
}

func (i fileInfo) Name() string { return i.name }
func (i fileInfo) Size() int64 {
	if i.f.Mode&fs.ModeSymlink != 0 {
		return int64(len(i.f.Link))
	}
	return int64(len(i.f.Data))
}
func (i fileInfo) Mode() fs.FileMode  { return i.f.Mode }
func (i fileInfo) ModTime() time.Time { return i.f.ModTime }
func (i fileInfo) IsDir() bool        { return i.f.Mode.IsDir() }
func (i fileInfo) Sys() any           { return nil }
