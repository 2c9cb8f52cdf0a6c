package config

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// WalkFileSet calls fn for every file a file set directory deploys, with
// its path relative to dir (slash-separated) and its local path, in
// lexical order. The loader walks it at validate and the apply walks it
// again to build the release, so both see the same files:
//
//   - a regular file is deployed;
//   - a symbolic link is followed when it resolves to a regular file inside
//     dir (its content is deployed under the link's name), and refused
//     otherwise: dangling, pointing out of dir, or at a directory;
//   - a file name with a control character or invalid UTF-8 is refused: it
//     cannot be written into the release's manifest as one line;
//   - anything else (a device, a socket, a FIFO) is refused.
//
// A refusal is never a silent skip: a file the operator put there and that
// never arrives is a deploy that lies.
func WalkFileSet(dir string, fn func(rel, local string) error) error {
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	return filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !utf8.ValidString(rel) || hasControl(rel) || strings.ContainsRune(rel, '\n') {
			return fmt.Errorf("%q: a file name with a control character or invalid UTF-8 cannot be deployed", rel)
		}
		switch t := de.Type(); {
		case t.IsDir():
			return nil
		case t.IsRegular():
			return fn(rel, p)
		case t&fs.ModeSymlink != 0:
			target, err := filepath.EvalSymlinks(p)
			if err != nil {
				to, _ := os.Readlink(p)
				return fmt.Errorf("%q is a symbolic link to %q, which does not exist", rel, to)
			}
			if target != realDir && !strings.HasPrefix(target, realDir+string(filepath.Separator)) {
				return fmt.Errorf("%q is a symbolic link to %s, outside the directory: copy the file in instead", rel, target)
			}
			fi, err := os.Stat(target)
			if err != nil {
				return err
			}
			if !fi.Mode().IsRegular() {
				return fmt.Errorf("%q is a symbolic link to a directory or special file (%s): only links to files are followed", rel, target)
			}
			return fn(rel, p)
		default:
			return fmt.Errorf("%q is neither a file, a directory nor a symbolic link (%s)", rel, t)
		}
	})
}
