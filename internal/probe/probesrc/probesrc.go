// Package probesrc is what the probe's generator (internal/probe/gen.go, a
// build-ignored program) and package probe must agree on: the
// architectures it is built for and the hash of the source it is built
// from. It embeds nothing, so the generator can import it before any
// binary exists.
package probesrc

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Arches maps GOARCH to the name systemd's %a specifier expands to on that
// architecture (systemd's architecture table: uname x86_64 is "x86-64").
// It lists exactly the architectures the probe is built for.
var Arches = map[string]string{
	"amd64": "x86-64",
	"arm64": "arm64",
}

// Hash hashes the probe's non-test Go files in dir (name and content,
// sorted by name): what bin/SOURCE records.
func Hash(dir string) (string, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return "", err
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		b, err := os.ReadFile(n)
		if err != nil {
			return "", err
		}
		h.Write([]byte(filepath.Base(n) + "\n"))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
