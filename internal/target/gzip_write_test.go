package target

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// TestGzipWriteScriptExitStatuses runs gzip_write.sh in a real /bin/sh
// against a temp directory, once per status its header names, and checks
// that only a 0 leaves the destination changed.
func TestGzipWriteScriptExitStatuses(t *testing.T) {
	plain := []byte("the file\n")
	sum := sha256.Sum256(plain)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(plain)
	_ = zw.Close()
	size, hexSum := strconv.Itoa(len(plain)), hex.EncodeToString(sum[:])

	noGzip := t.TempDir() // a PATH holding only what the script needs besides gzip
	for _, tool := range []string{"sha256sum", "wc", "rm", "chmod", "mv", "sync"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Skipf("%s not found", tool)
		}
		if err := os.Symlink(p, filepath.Join(noGzip, tool)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name        string
		dst         string // relative to the test's directory
		mode, sum   string
		stdin       []byte
		path        string
		want        int
		wantWritten bool
	}{
		{name: "written", dst: "f", mode: "0644", sum: hexSum, stdin: gz.Bytes(), want: 0, wantWritten: true},
		{name: "no gzip", dst: "f", mode: "0644", sum: hexSum, stdin: gz.Bytes(), path: noGzip, want: gzipExitMissing},
		{name: "a directory", dst: "d", mode: "0644", sum: hexSum, stdin: gz.Bytes(), want: gzipExitDest},
		{name: "cut short", dst: "f", mode: "0644", sum: hexSum, stdin: gz.Bytes()[:gz.Len()/2], want: gzipExitCut},
		{name: "wrong sum", dst: "f", mode: "0644", sum: hex.EncodeToString(make([]byte, 32)), stdin: gz.Bytes(), want: gzipExitVerify},
		{name: "bad mode", dst: "f", mode: "not-a-mode", sum: hexSum, stdin: gz.Bytes(), want: gzipExitInstall},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(dir, tc.dst)
			c := exec.CommandContext(t.Context(), "sh", "-c", gzipWriteScript, "openim-deploy-gz", dst, tc.mode, size, tc.sum)
			c.Stdin = bytes.NewReader(tc.stdin)
			if tc.path != "" {
				c.Env = append(os.Environ(), "PATH="+tc.path)
			}
			out, err := c.CombinedOutput()
			code := 0
			if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.want {
				t.Fatalf("exit status %d, want %d: %s", code, tc.want, out)
			}
			got, err := os.ReadFile(filepath.Join(dir, "f"))
			if tc.wantWritten != (err == nil) || (err == nil && !bytes.Equal(got, plain)) {
				t.Errorf("destination: %q, %v; want written=%v", got, err, tc.wantWritten)
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if e.Name() != "f" && e.Name() != "d" {
					t.Errorf("left behind: %s", e.Name())
				}
			}
		})
	}
}
