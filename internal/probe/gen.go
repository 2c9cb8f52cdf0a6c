//go:build ignore

// gen builds cmd/openim-probe for every architecture in probe.Arches into
// bin/openim-probe.<arch>.gz and records the hash of the source it built
// from in bin/SOURCE. Run it with "go generate ./internal/probe".
package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// arches must match probe.Arches (a build-ignored file cannot import it).
var arches = map[string]string{"amd64": "x86-64", "arm64": "arm64"}

func main() {
	tmp, err := os.MkdirTemp("", "openim-probe")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	for goarch, arch := range arches {
		out := filepath.Join(tmp, arch)
		cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=", "-o", out, "../../cmd/openim-probe")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			log.Fatalf("build %s: %v", goarch, err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			log.Fatal(err)
		}
		var z bytes.Buffer
		w, _ := gzip.NewWriterLevel(&z, gzip.BestCompression) // no name, no time: reproducible
		if _, err := w.Write(b); err != nil {
			log.Fatal(err)
		}
		if err := w.Close(); err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("bin", "openim-probe."+arch+".gz"), z.Bytes(), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	sum, err := sourceHash("../../cmd/openim-probe")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("bin", "SOURCE"), []byte(sum+"\n"), 0o644); err != nil {
		log.Fatal(err)
	}
}

// sourceHash is probe.sourceHash (source.go); keep the two in step.
func sourceHash(dir string) (string, error) {
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
