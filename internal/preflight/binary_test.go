package preflight

import (
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// tinyELF builds a minimal 64-bit little-endian ELF executable header for
// machine, with a PT_INTERP program header when interp is not "".
func tinyELF(machine elf.Machine, interp string) []byte {
	le := binary.LittleEndian
	b := make([]byte, 64)
	copy(b, elf.ELFMAG)
	b[4], b[5], b[6] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	le.PutUint16(b[16:], uint16(elf.ET_EXEC))
	le.PutUint16(b[18:], uint16(machine))
	le.PutUint32(b[20:], uint32(elf.EV_CURRENT))
	le.PutUint16(b[52:], 64) // e_ehsize
	le.PutUint16(b[54:], 56) // e_phentsize
	if interp == "" {
		return b
	}
	le.PutUint64(b[32:], 64) // e_phoff
	le.PutUint16(b[56:], 1)  // e_phnum
	ph := make([]byte, 56)
	data := append([]byte(interp), 0)
	le.PutUint32(ph[0:], uint32(elf.PT_INTERP))
	le.PutUint64(ph[8:], 64+56)              // p_offset
	le.PutUint64(ph[32:], uint64(len(data))) // p_filesz
	le.PutUint64(ph[40:], uint64(len(data))) // p_memsz
	return append(append(b, ph...), data...)
}

func TestInspectBinary(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name         string
		data         []byte
		format       Format
		arch, interp string
	}{
		{"arm64", tinyELF(elf.EM_AARCH64, ""), FormatELF, "arm64", ""},
		{"amd64-glibc", tinyELF(elf.EM_X86_64, "/lib64/ld-linux-x86-64.so.2"), FormatELF, "amd64", "/lib64/ld-linux-x86-64.so.2"},
		{"riscv", tinyELF(elf.EM_RISCV, ""), FormatELF, "riscv64", ""},
		{"sparc", tinyELF(elf.EM_SPARCV9, ""), FormatELF, "", ""},
		{"script", []byte("#!/bin/sh\necho hi\n"), FormatScript, "", ""},
		{"macho", []byte{0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1}, FormatMachO, "", ""},
		{"pe", []byte("MZ\x90\x00"), FormatPE, "", ""},
		{"text", []byte("hello"), FormatOther, "", ""},
		{"empty", nil, FormatOther, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := InspectBinary(write(tt.name, tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if b.Format != tt.format || b.Arch != tt.arch || b.Interp != tt.interp || b.Size != int64(len(tt.data)) {
				t.Errorf("got %+v", b)
			}
		})
	}

	if _, err := InspectBinary(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file: no error")
	}
	if _, err := InspectBinary(write("broken", []byte("\x7fELF\x09"))); err == nil {
		t.Error("broken ELF: no error")
	}
	if runtime.GOOS == "linux" {
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		b, err := InspectBinary(exe)
		if err != nil || b.Format != FormatELF || b.Arch != runtime.GOARCH {
			t.Errorf("test binary: %+v, %v", b, err)
		}
	}
}
