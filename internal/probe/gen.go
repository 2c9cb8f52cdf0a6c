//go:build ignore

// gen builds cmd/openim-probe for every architecture in probe.Arches into
// bin/openim-probe.<arch>.gz, records each binary's SHA-256 in
// bin/SHA256SUMS (so a plan needs no decompression) and the hash of the
// source it built from in bin/SOURCE. Run it with "go generate ./internal/probe".
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

	"github.com/openimsdk/openim-deploy/internal/probe/probesrc"
)

func main() {
	tmp, err := os.MkdirTemp("", "openim-probe")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	var sums []string
	for goarch, arch := range probesrc.Arches {
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
		sum := sha256.Sum256(b)
		sums = append(sums, hex.EncodeToString(sum[:])+"  openim-probe."+arch+"\n")
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
	sort.Slice(sums, func(i, j int) bool { return sums[i][66:] < sums[j][66:] }) // by name
	if err := os.WriteFile(filepath.Join("bin", "SHA256SUMS"), []byte(strings.Join(sums, "")), 0o644); err != nil {
		log.Fatal(err)
	}
	sum, err := probesrc.Hash("../../cmd/openim-probe")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("bin", "SOURCE"), []byte(sum+"\n"), 0o644); err != nil {
		log.Fatal(err)
	}
}
