package probe

import (
	"bytes"
	"debug/elf"
	"os"
	"strings"
	"testing"

	"github.com/openimsdk/openim-deploy/internal/probe/probesrc"
)

// TestEmbeddedProbeIsCurrent fails when cmd/openim-probe changed after the
// binaries were generated: run "go generate ./internal/probe" and commit.
func TestEmbeddedProbeIsCurrent(t *testing.T) {
	want, err := probesrc.Hash("../../cmd/openim-probe")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("bin/SOURCE")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(got)) != want {
		t.Fatalf("bin/ was generated from another cmd/openim-probe (SOURCE %s, source now %s): run go generate ./internal/probe", strings.TrimSpace(string(got)), want)
	}
}

// TestBinaries checks each embedded probe is a static Linux executable for
// the architecture its name says, and named as systemd's %a expands.
func TestBinaries(t *testing.T) {
	bins, err := Binaries()
	if err != nil {
		t.Fatal(err)
	}
	if len(bins) != len(Arches) {
		t.Fatalf("%d binaries, want %d", len(bins), len(Arches))
	}
	machine := map[string]elf.Machine{"x86-64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	for _, b := range bins {
		content, err := b.Content() // checked against bin/SHA256SUMS
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(content)) != b.Size {
			t.Errorf("%s: %d bytes, Size says %d", b.Rel, len(content), b.Size)
		}
		f, err := elf.NewFile(bytes.NewReader(content))
		if err != nil {
			t.Fatalf("%s: %v", b.Rel, err)
		}
		if f.Machine != machine[b.Arch] || f.OSABI != elf.ELFOSABI_NONE && f.OSABI != elf.ELFOSABI_LINUX {
			t.Errorf("%s: machine %v, OS ABI %v", b.Rel, f.Machine, f.OSABI)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s is dynamically linked", b.Rel)
			}
		}
		if b.Rel != "probe/openim-probe."+b.Arch || len(b.SHA256) != 64 {
			t.Errorf("binary %+v", b.Rel)
		}
	}
	if !Supports("amd64") || Supports("s390x") {
		t.Error("Supports")
	}
}
