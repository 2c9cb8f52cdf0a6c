package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func walkAll(t *testing.T, dir string) ([]string, error) {
	t.Helper()
	var got []string
	err := WalkFileSet(dir, func(rel, _ string) error { got = append(got, rel); return nil })
	return got, err
}

// TestWalkFileSet: links to files inside the directory are followed (they
// used to be dropped without a word); a link out of it, a dangling one, a
// link to a directory and a name with a newline are refused, naming the
// file.
func TestWalkFileSet(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "sub"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.yml"), []byte("a"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "sub", "b.yml"), []byte("b"), 0o644))
	require.NoError(t, os.Symlink("sub/b.yml", filepath.Join(dir, "link.yml")))
	got, err := walkAll(t, dir)
	require.NoError(t, err)
	require.Equal(t, []string{"a.yml", "link.yml", "sub/b.yml"}, got)

	for name, mk := range map[string]func(string) error{
		"outside":     func(p string) error { return os.Symlink("/etc/hostname", p) },
		"dangling":    func(p string) error { return os.Symlink("nowhere", p) },
		"a directory": func(p string) error { return os.Symlink("sub", p) },
	} {
		bad := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(bad, "sub"), 0o755))
		require.NoError(t, mk(filepath.Join(bad, "x")))
		_, err := walkAll(t, bad)
		require.ErrorContains(t, err, `"x" is a symbolic link`, name)
	}

	nl := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(nl, "a\nb"), []byte("x"), 0o644))
	_, err = walkAll(t, nl)
	require.ErrorContains(t, err, `"a\nb": a file name with a control character`)
}
