package target

import (
	"context"
	"io"
	"io/fs"
)

// Stager is a target that can write a file atomically, like WriteFile,
// without checking its SHA-256 on the host afterwards: for a caller that
// checks every file it staged in one command before anything uses them (a
// release is hashed as a whole before it is committed), which saves a
// session per file.
type Stager interface {
	StageFile(ctx context.Context, path string, r io.Reader, mode fs.FileMode) error
}

// StageFile writes r to path on t with t's StageFile when it has one, else
// with WriteFile (which checks the file itself).
func StageFile(ctx context.Context, t Target, path string, r io.Reader, mode fs.FileMode) error {
	if s, ok := t.(Stager); ok {
		return s.StageFile(ctx, path, r, mode)
	}
	return t.WriteFile(ctx, path, r, mode)
}
