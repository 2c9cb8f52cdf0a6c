package osinfo

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzParseDetect feeds arbitrary fact-gathering output to ParseDetect: a
// host is untrusted input, so parsing must never panic, and facts it could
// not read are recorded as unknown rather than guessed.
func FuzzParseDetect(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "detect", "*.txt"))
	if err != nil || len(files) == 0 {
		f.Fatalf("seeds: %v (%d files)", err, len(files))
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	sent := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, out []byte) {
		facts, err := ParseDetect(out, "/opt/openim", sent, sent.Add(time.Second))
		if err == nil && facts.DiskPath != "/opt/openim" && facts.DiskPath != "" {
			t.Fatalf("DiskPath = %q", facts.DiskPath)
		}
	})
}
