package target

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
)

// gzipStageBadInput is gzip_stage.sh's status for arguments that are not
// N triples; its other statuses share gzip_write.sh's names and meanings.
const gzipStageBadInput = 2

// gzipStageScript stages several files from one gzip stream (see
// scripts/gzip_stage.sh).
//
//go:embed scripts/gzip_stage.sh
var gzipStageScript string

// GzipFile is one file of StageFilesGzip: where it goes, its mode, its
// size once decompressed, and its gzip member.
type GzipFile struct {
	Path string
	Mode fs.FileMode
	Size int64
	// Open returns the file's gzip stream (one gzip member, or several);
	// it is opened when its turn comes and closed after.
	Open func() (io.ReadCloser, error)
}

// StageFilesGzip stages files on t from their gzip streams, sent one after
// the other on one exec session and decompressed by the host's own gzip
// -dc: one session per host however many files, where WriteFileGzip takes
// one each. Like StageFile it checks sizes, not SHA-256: the caller checks
// every staged file before anything uses them. It returns the compressed
// bytes sent. A host without gzip yields errors.Is(err, ErrNoGzip) before
// anything is written; a cut or corrupt stream (ErrGzipCut) installs none
// of the files.
func StageFilesGzip(ctx context.Context, t Target, files []GzipFile) (int64, error) {
	if len(files) == 0 {
		return 0, nil
	}
	args := []string{"sh", "-c", gzipStageScript, "openim-deploy-gz", strconv.Itoa(len(files))}
	for _, f := range files {
		args = append(args, f.Path, fmt.Sprintf("%04o", f.Mode.Perm()), strconv.FormatInt(f.Size, 10))
	}
	pr, pw := io.Pipe()
	go func() { // ends when every member is copied or the transport stops reading
		var err error
		for _, f := range files {
			var rc io.ReadCloser
			if rc, err = f.Open(); err != nil {
				break
			}
			_, err = io.Copy(pw, rc)
			err = errors.Join(err, rc.Close())
			if err != nil {
				break
			}
		}
		pw.CloseWithError(err)
	}()
	src := &sentCounter{r: pr}
	_, err := t.Run(ctx, Cmd{Args: args, Env: []string{"LC_ALL=C"}, Stdin: src})
	_ = pr.Close() // stops the copier if the host stopped reading early
	sent, readErr := src.result()
	return sent, gzipError(fmt.Sprintf("stage %d files on %s", len(files), t), err, readErr)
}
