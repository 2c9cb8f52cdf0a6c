package preflight

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
)

// Format is what kind of file a binary is.
type Format string

// Formats InspectBinary recognises.
const (
	FormatELF    Format = "elf"
	FormatScript Format = "script" // starts with "#!"
	FormatMachO  Format = "mach-o" // a macOS executable: built without GOOS=linux
	FormatPE     Format = "pe"     // a Windows executable
	FormatOther  Format = "other"
)

// Binary describes one local file that will be pushed to hosts and executed.
// Make it with InspectBinary, once per file, not once per host.
type Binary struct {
	Path   string // local path, used in messages
	Size   int64
	Format Format
	// Arch is the GOARCH the ELF file was built for ("amd64", "arm64"); ""
	// when it is not ELF or its machine is one Go does not know.
	Arch string
	// Machine is the ELF machine as debug/elf names it ("EM_X86_64"), for
	// messages about machines Arch cannot name.
	Machine string
	// Interp is the ELF program interpreter of a dynamically linked file
	// ("/lib64/ld-linux-x86-64.so.2"); "" for a static binary.
	Interp string
}

// InspectBinary reads the local file at path: its size, and for ELF files
// the architecture and program interpreter (with debug/elf).
func InspectBinary(path string) (Binary, error) {
	f, err := os.Open(path)
	if err != nil {
		return Binary{}, fmt.Errorf("inspect binary: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Binary{}, fmt.Errorf("inspect binary: %w", err)
	}
	b := Binary{Path: path, Size: fi.Size()}
	magic := make([]byte, 4)
	n, _ := io.ReadFull(f, magic)
	magic = magic[:n]
	switch {
	case bytes.HasPrefix(magic, []byte(elf.ELFMAG)):
		return inspectELF(f, b)
	case bytes.HasPrefix(magic, []byte("#!")):
		b.Format = FormatScript
	case bytes.HasPrefix(magic, []byte("MZ")):
		b.Format = FormatPE
	case isMachO(magic):
		b.Format = FormatMachO
	default:
		b.Format = FormatOther
	}
	return b, nil
}

func isMachO(m []byte) bool {
	if len(m) < 4 {
		return false
	}
	for _, magic := range [][]byte{
		{0xfe, 0xed, 0xfa, 0xce}, {0xfe, 0xed, 0xfa, 0xcf}, // big-endian 32/64
		{0xce, 0xfa, 0xed, 0xfe}, {0xcf, 0xfa, 0xed, 0xfe}, // little-endian 32/64
		{0xca, 0xfe, 0xba, 0xbe}, // universal ("fat") binary
	} {
		if bytes.Equal(m, magic) {
			return true
		}
	}
	return false
}

func inspectELF(r io.ReaderAt, b Binary) (Binary, error) {
	ef, err := elf.NewFile(r)
	if err != nil {
		return b, fmt.Errorf("inspect binary %s: %w", b.Path, err)
	}
	defer ef.Close()
	b.Format = FormatELF
	b.Machine = ef.Machine.String()
	b.Arch = elfGOARCH(ef.Machine, ef.Class, ef.ByteOrder.String() == "LittleEndian")
	for _, p := range ef.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(p.Open(), 4096))
		if err != nil && !errors.Is(err, io.EOF) {
			return b, fmt.Errorf("inspect binary %s: read interpreter: %w", b.Path, err)
		}
		b.Interp = string(bytes.TrimRight(data, "\x00"))
	}
	return b, nil
}

// elfGOARCH maps an ELF machine to GOARCH; "" when Go has no name for it.
func elfGOARCH(m elf.Machine, class elf.Class, little bool) string {
	is64 := class == elf.ELFCLASS64
	switch m {
	case elf.EM_X86_64:
		return "amd64"
	case elf.EM_386:
		return "386"
	case elf.EM_AARCH64:
		return "arm64"
	case elf.EM_ARM:
		return "arm"
	case elf.EM_PPC64:
		if little {
			return "ppc64le"
		}
		return "ppc64"
	case elf.EM_S390:
		if is64 {
			return "s390x"
		}
	case elf.EM_RISCV:
		if is64 {
			return "riscv64"
		}
	case elf.EM_LOONGARCH:
		return "loong64"
	case elf.EM_MIPS:
		switch {
		case is64 && little:
			return "mips64le"
		case is64:
			return "mips64"
		case little:
			return "mipsle"
		default:
			return "mips"
		}
	}
	return ""
}
