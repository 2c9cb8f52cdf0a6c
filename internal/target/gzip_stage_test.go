package target_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/target/local"
)

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, err := w.Write(b)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

func member(gz []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(gz)), nil }
}

// TestStageFilesGzip runs gzip_stage.sh in a real sh through the local
// target: three files (one empty, one larger than dd's block) from one
// session land whole with their modes; a cut stream, a stream with more
// than the files, and a destination that is a directory install nothing.
func TestStageFilesGzip(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 10_000) // 160 KB: several dd blocks
	files := map[string][]byte{"a": []byte("first\n"), "empty": {}, "big": big}
	order := []string{"a", "empty", "big"}
	tg := local.New("t", "")

	t.Run("written", func(t *testing.T) {
		dir := t.TempDir()
		var gf []target.GzipFile
		var wantWire int64
		for i, n := range order {
			gz := gzipped(t, files[n])
			wantWire += int64(len(gz))
			gf = append(gf, target.GzipFile{Path: filepath.Join(dir, n), Mode: []os.FileMode{0o644, 0o600, 0o755}[i], Size: int64(len(files[n])), Open: member(gz)})
		}
		wire, err := target.StageFilesGzip(t.Context(), tg, gf)
		require.NoError(t, err)
		require.Equal(t, wantWire, wire)
		for i, n := range order {
			got, err := os.ReadFile(filepath.Join(dir, n))
			require.NoError(t, err)
			require.Equal(t, files[n], got, n)
			fi, err := os.Stat(filepath.Join(dir, n))
			require.NoError(t, err)
			require.Equal(t, []os.FileMode{0o644, 0o600, 0o755}[i], fi.Mode().Perm(), n)
		}
		left, _ := filepath.Glob(filepath.Join(dir, "*.openim-deploy-gz.*"))
		require.Empty(t, left, "no temp file stays")
	})

	failing := []struct {
		name string
		// files returns what to send into dir.
		files func(dir string) []target.GzipFile
		cut   bool
	}{
		{name: "cut short", cut: true, files: func(dir string) []target.GzipFile {
			gz := gzipped(t, big)
			return []target.GzipFile{
				{Path: filepath.Join(dir, "a"), Mode: 0o644, Size: 6, Open: member(gzipped(t, files["a"]))},
				{Path: filepath.Join(dir, "big"), Mode: 0o644, Size: int64(len(big)), Open: member(gz[:len(gz)/2])},
			}
		}},
		{name: "more than the files", cut: true, files: func(dir string) []target.GzipFile {
			return []target.GzipFile{{Path: filepath.Join(dir, "a"), Mode: 0o644, Size: 3, Open: member(gzipped(t, files["a"]))}}
		}},
		{name: "a directory", files: func(dir string) []target.GzipFile {
			require.NoError(t, os.Mkdir(filepath.Join(dir, "d"), 0o755))
			return []target.GzipFile{
				{Path: filepath.Join(dir, "a"), Mode: 0o644, Size: 6, Open: member(gzipped(t, files["a"]))},
				{Path: filepath.Join(dir, "d"), Mode: 0o644, Size: 6, Open: member(gzipped(t, files["a"]))},
			}
		}},
		{name: "a member that cannot be read", files: func(dir string) []target.GzipFile {
			return []target.GzipFile{
				{Path: filepath.Join(dir, "a"), Mode: 0o644, Size: 6, Open: member(gzipped(t, files["a"]))},
				{Path: filepath.Join(dir, "b"), Mode: 0o644, Size: 6, Open: func() (io.ReadCloser, error) { return nil, errors.New("no such copy") }},
			}
		}},
	}
	for _, tc := range failing {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := target.StageFilesGzip(t.Context(), tg, tc.files(dir))
			require.Error(t, err)
			if tc.cut {
				require.ErrorIs(t, err, target.ErrGzipCut)
			}
			for _, n := range []string{"a", "b", "big"} {
				_, statErr := os.Stat(filepath.Join(dir, n))
				require.True(t, os.IsNotExist(statErr), "%s: nothing installed", n)
			}
			left, _ := filepath.Glob(filepath.Join(dir, ".*openim-deploy-gz*"))
			left2, _ := filepath.Glob(filepath.Join(dir, "*openim-deploy-gz*"))
			require.Empty(t, append(left, left2...), "no temp file stays")
		})
	}
}
