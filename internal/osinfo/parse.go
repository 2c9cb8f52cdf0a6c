package osinfo

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
)

// goarchByMachine maps uname -m to GOARCH.
var goarchByMachine = map[string]string{
	"x86_64": "amd64", "amd64": "amd64",
	"aarch64": "arm64", "arm64": "arm64", "aarch64_be": "arm64be",
	"i386": "386", "i486": "386", "i586": "386", "i686": "386",
	"armv5tel": "arm", "armv6l": "arm", "armv7l": "arm", "armv8l": "arm",
	"ppc64le": "ppc64le", "ppc64": "ppc64",
	"s390x":       "s390x",
	"riscv64":     "riscv64",
	"loongarch64": "loong64",
	"mips":        "mips", "mipsel": "mipsle", "mips64": "mips64", "mips64el": "mips64le",
}

// GOARCH maps a machine name from uname -m to Go's GOARCH ("x86_64" →
// "amd64", "aarch64" → "arm64"). It returns "" for a machine it does not know.
func GOARCH(machine string) string {
	return goarchByMachine[strings.TrimSpace(machine)]
}

// ParseSystemdVersion reads the first line of "systemctl --version":
// "systemd 252 (252.22-1~deb12u1)" gives 252, "systemd 219" gives 219.
func ParseSystemdVersion(line string) (int, error) {
	f := strings.Fields(line)
	if len(f) < 2 || f[0] != "systemd" {
		return 0, fmt.Errorf("systemd version: unexpected %q", line)
	}
	v := f[1]
	if i := strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		v = v[:i] // "256~rc3", "257.1" on some builds
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("systemd version: unexpected %q", line)
	}
	return n, nil
}

// parseKV reads "key value" lines into a map; the value is the rest of the line.
func parseKV(b []byte) map[string]string {
	m := map[string]string{}
	for line := range strings.Lines(string(b)) {
		k, v, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
		if k != "" {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

// parseMeminfo returns MemTotal and MemAvailable in bytes from /proc/meminfo
// lines. Kernels before 3.14 have no MemAvailable: it is then estimated as
// MemFree+Buffers+Cached.
func parseMeminfo(b []byte) (total, avail int64, err error) {
	kb := map[string]int64{}
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || n < 0 || n > math.MaxInt64/1024 {
			continue
		}
		kb[strings.TrimSpace(k)] = n
	}
	total, ok := kb["MemTotal"]
	if !ok {
		return 0, 0, fmt.Errorf("meminfo: no MemTotal")
	}
	a, ok := kb["MemAvailable"]
	if !ok {
		free, ok := kb["MemFree"]
		if !ok {
			return 0, 0, fmt.Errorf("meminfo: neither MemAvailable nor MemFree")
		}
		a = free + kb["Buffers"] + kb["Cached"]
	}
	return total * 1024, a * 1024, nil
}

// parseLimit reads a number as printed by ulimit or /proc; "unlimited" is
// math.MaxInt64.
func parseLimit(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "unlimited" || s == "infinity" {
		return math.MaxInt64, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("limit: unexpected %q", s)
	}
	return n, nil
}

// dfResult is one line of "df -Pk".
type dfResult struct {
	Mount            string
	Total, Available int64 // bytes
}

// parseDF parses the output of "df -Pk PATH": a header and one line
// "Filesystem 1024-blocks Used Available Capacity Mounted-on". The columns are
// found from the capacity column ("42%"), so a filesystem name with spaces
// does not shift them, and the mount point is everything after it.
func parseDF(b []byte) (dfResult, error) {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) < 2 {
		return dfResult{}, fmt.Errorf("df: no data line in %q", b)
	}
	line := lines[len(lines)-1]
	f := strings.Fields(line)
	for i := len(f) - 1; i >= 3; i-- {
		if !strings.HasSuffix(f[i], "%") {
			continue
		}
		total, err1 := strconv.ParseInt(f[i-3], 10, 64)
		avail, err2 := strconv.ParseInt(f[i-1], 10, 64)
		if err1 != nil || err2 != nil || total < 0 || avail < 0 || total > math.MaxInt64/1024 || avail > math.MaxInt64/1024 {
			continue
		}
		mount := ""
		if i+1 < len(f) {
			// Keep inner spaces of the mount point: cut the line after the capacity field.
			_, after, _ := strings.Cut(line, " "+f[i]+" ")
			mount = strings.TrimSpace(after)
		}
		return dfResult{Mount: mount, Total: total * 1024, Available: avail * 1024}, nil
	}
	return dfResult{}, fmt.Errorf("df: unexpected line %q", line)
}

// ParseProcNetTCP returns the LISTEN sockets (state 0A) in the format of
// /proc/net/tcp and /proc/net/tcp6. Lines may be whole table rows
// ("0: 00000000:1F90 00000000:0000 0A ...", header included) or just the
// local address column; a row in any other state is skipped. The kernel
// prints each 32-bit word of an address in host byte order: this assumes a
// little-endian host, as every supported architecture but s390x is.
func ParseProcNetTCP(b []byte) ([]Listener, error) {
	var out []Listener
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		var local string
		switch {
		case len(f) == 1:
			local = f[0]
		case len(f) >= 4 && strings.HasSuffix(f[0], ":"):
			if f[3] != "0A" {
				continue
			}
			local = f[1]
		default:
			continue // header or noise
		}
		l, err := parseProcAddr(local)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, sc.Err()
}

func parseProcAddr(s string) (Listener, error) {
	h, p, ok := strings.Cut(s, ":")
	if !ok {
		return Listener{}, fmt.Errorf("proc net tcp: bad address %q", s)
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return Listener{}, fmt.Errorf("proc net tcp: bad port in %q", s)
	}
	raw, err := hex.DecodeString(h)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return Listener{}, fmt.Errorf("proc net tcp: bad address %q", s)
	}
	// Each 32-bit word is in host (little-endian) order: swap to network order.
	for i := 0; i < len(raw); i += 4 {
		binary.BigEndian.PutUint32(raw[i:], binary.LittleEndian.Uint32(raw[i:]))
	}
	addr, _ := netip.AddrFromSlice(raw)
	return Listener{Addr: addr.Unmap(), Port: int(port)}, nil
}

// decideInit names the init system from the "init" section: lines
// "run-systemd", "run-openrc", "openrc", "inittab", "pid1 NAME" and
// "sbin-init TARGET". It follows sd_booted(3): systemd only when
// /run/systemd/system exists, whatever is installed.
func decideInit(kv map[string]string) (InitSystem, string) {
	_, runSystemd := kv["run-systemd"]
	_, runOpenRC := kv["run-openrc"]
	_, openrcBin := kv["openrc"]
	_, inittab := kv["inittab"]
	pid1, link := kv["pid1"], kv["sbin-init"]

	var ev []string
	if runSystemd {
		return InitSystemd, "/run/systemd/system exists"
	}
	ev = append(ev, "no /run/systemd/system")
	if pid1 != "" {
		ev = append(ev, "PID 1 is "+pid1)
	}
	if link != "" {
		ev = append(ev, "/sbin/init -> "+link)
	}
	switch {
	case runOpenRC || pid1 == "openrc-init":
		return InitOpenRC, strings.Join(append(ev, "/run/openrc exists"), "; ")
	case openrcBin && pid1 != "systemd":
		return InitOpenRC, strings.Join(append(ev, "openrc installed"), "; ")
	case inittab && (pid1 == "init" || pid1 == ""):
		return InitSysV, strings.Join(append(ev, "/etc/inittab present"), "; ")
	case strings.Contains(link, "sysvinit"):
		return InitSysV, strings.Join(ev, "; ")
	}
	return InitUnknown, strings.Join(ev, "; ")
}
