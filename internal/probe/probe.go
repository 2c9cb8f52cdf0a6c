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
	"fmt"
	"sort"
	"strings"
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

//go:embed bin/*.gz bin/SHA256SUMS
var binaries embed.FS

// Binary is one architecture's probe. Its hash and size are known without
// its bytes (bin/SHA256SUMS, the gzip trailer), so a plan, which only
// compares them with the hosts', never decompresses it: Content does,
// when the probe is sent.
type Binary struct {
	Arch   string // systemd architecture name ("x86-64")
	Rel    string // path inside a release
	Size   int64
	SHA256 string // hex
}

// Content returns b's bytes, decompressed once per process and checked
// against b.SHA256; callers must not modify them.
func (b Binary) Content() ([]byte, error) {
	read, ok := contents[b.Arch]
	if !ok {
		return nil, fmt.Errorf("no probe is built for %q", b.Arch)
	}
	return read()
}

var contents = func() map[string]func() ([]byte, error) {
	m := map[string]func() ([]byte, error){}
	for _, arch := range Arches {
		m[arch] = sync.OnceValues(func() ([]byte, error) { return decompress(arch) })
	}
	return m
}()

var load = sync.OnceValues(func() ([]Binary, error) {
	sums, err := binaries.ReadFile("bin/SHA256SUMS")
	if err != nil {
		return nil, err
	}
	byName := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if ok {
			byName[name] = sum
		}
	}
	var out []Binary
	for _, arch := range Arches {
		z, err := binaries.ReadFile(gzName(arch))
		if err != nil {
			return nil, err
		}
		sum := byName[BinaryBase+"."+arch]
		if len(z) < 4 || len(sum) != sha256.Size*2 {
			return nil, fmt.Errorf("probe for %s: no size or no hash in bin/ (run go generate ./internal/probe)", arch)
		}
		// The gzip trailer's ISIZE: the size modulo 2^32, exact for a
		// probe of a few MiB.
		size := int64(binary.LittleEndian.Uint32(z[len(z)-4:]))
		out = append(out, Binary{Arch: arch, Rel: Rel(arch), Size: size, SHA256: sum})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Rel < out[j].Rel })
	return out, nil
})

func gzName(arch string) string { return "bin/" + BinaryBase + "." + arch + ".gz" }

// decompress reads arch's embedded probe into a buffer of its size (the
// gzip trailer's) and checks it against bin/SHA256SUMS.
func decompress(arch string) ([]byte, error) {
	z, err := binaries.ReadFile(gzName(arch))
	if err != nil {
		return nil, err
	}
	r, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, fmt.Errorf("probe for %s: %w", arch, err)
	}
	var buf bytes.Buffer
	if n := len(z); n >= 4 {
		if size := binary.LittleEndian.Uint32(z[n-4:]); size <= 256<<20 {
			buf.Grow(int(size) + bytes.MinRead) // ReadFrom grows below MinRead free
		}
	}
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, fmt.Errorf("probe for %s: %w", arch, err)
	}
	bins, err := load()
	if err != nil {
		return nil, err
	}
	b := buf.Bytes()
	sum := sha256.Sum256(b)
	for _, bin := range bins {
		if bin.Arch == arch && (bin.SHA256 != hex.EncodeToString(sum[:]) || bin.Size != int64(len(b))) {
			return nil, fmt.Errorf("probe for %s: bin/SHA256SUMS does not match the binary (run go generate ./internal/probe)", arch)
		}
	}
	return b, nil
}

// Binaries returns every architecture's probe, sorted by path, without
// its bytes (Binary.Content).
func Binaries() ([]Binary, error) { return load() }

// Supports reports whether a probe is built for goarch.
func Supports(goarch string) bool { return Arches[goarch] != "" }
