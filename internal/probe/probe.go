// Package probe holds the readiness probe (cmd/openim-probe) built for the
// architectures openim-deploy supports, so a release can carry it: systemd
// runs it as ExecStartPost= of every service whose unit waits for its own
// health check (docs/units.md, "Readiness in the unit").
//
// The binaries are generated (go generate ./internal/probe: a static,
// stripped, reproducible build per architecture, gzip-compressed) and
// committed, so "go build" and "go install" produce a tool that works
// without a build step. TestEmbeddedProbeIsCurrent fails when the probe's
// source changed and the binaries were not generated again.
package probe

//go:generate go run gen.go

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"

	"github.com/openimsdk/openim-deploy/internal/probe/probesrc"
)

// Dir is the directory, inside a release, that holds the probe binaries
// and each waiting service's check file.
const Dir = "probe"

// BinaryBase is the probe's name in Dir; each architecture's build is
// BinaryBase + "." + its systemd architecture name, so a unit picks its own
// with the %a specifier: probe/openim-probe.%a.
const BinaryBase = "openim-probe"

// Arches maps GOARCH to the name systemd's %a specifier expands to; it
// lists exactly the architectures the probe is built for.
var Arches = probesrc.Arches

// Rel is the release-relative path of the probe built for systemd
// architecture arch ("x86-64").
func Rel(arch string) string { return Dir + "/" + BinaryBase + "." + arch }

// SpecRel is the release-relative path of the check file of service.
func SpecRel(service string) string { return Dir + "/" + service + ".json" }

//go:embed bin/*.gz
var binaries embed.FS

// Binary is one architecture's probe.
type Binary struct {
	Arch    string // systemd architecture name ("x86-64")
	Rel     string // path inside a release
	Content []byte
	SHA256  string // hex
}

var load = sync.OnceValues(func() ([]Binary, error) {
	// Side by side: the first host's plan waits for this, and every
	// other host's behind it.
	arches := slices.Sorted(maps.Values(Arches))
	out := make([]Binary, len(arches))
	errs := make([]error, len(arches))
	var wg sync.WaitGroup
	for i, arch := range arches {
		wg.Go(func() { out[i], errs[i] = decompress(arch) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Rel < out[j].Rel })
	return out, nil
})

// decompress reads arch's embedded probe into a buffer of its size (the
// gzip trailer's), hashing it.
func decompress(arch string) (Binary, error) {
	z, err := binaries.ReadFile("bin/" + BinaryBase + "." + arch + ".gz")
	if err != nil {
		return Binary{}, err
	}
	r, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		return Binary{}, fmt.Errorf("probe for %s: %w", arch, err)
	}
	var buf bytes.Buffer
	if n := len(z); n >= 4 {
		if size := binary.LittleEndian.Uint32(z[n-4:]); size <= 256<<20 {
			buf.Grow(int(size) + bytes.MinRead) // ReadFrom grows below MinRead free
		}
	}
	if _, err := buf.ReadFrom(r); err != nil {
		return Binary{}, fmt.Errorf("probe for %s: %w", arch, err)
	}
	b := buf.Bytes()
	sum := sha256.Sum256(b)
	return Binary{Arch: arch, Rel: Rel(arch), Content: b, SHA256: hex.EncodeToString(sum[:])}, nil
}

// Binaries returns every architecture's probe, sorted by path, decompressed
// once per process; callers must not modify the contents.
func Binaries() ([]Binary, error) { return load() }

// Supports reports whether a probe is built for goarch.
func Supports(goarch string) bool { return Arches[goarch] != "" }
