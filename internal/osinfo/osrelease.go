// Package osinfo finds out what a host is before anything changes on it:
// the OS from os-release, kernel, architecture, init system and systemd
// version, clock, memory, disk, file-descriptor limits, login user and sudo,
// and listening TCP ports.
//
// Parsers (ParseOSRelease and the rest) are pure functions over bytes.
// Detect gathers every fact in one round trip: a constant POSIX sh script
// that prints delimited sections, with the one input (a path) passed as a
// positional argument, never interpolated. Nothing here needs Python or
// iproute2 on the host, and nothing writes to it.
package osinfo

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Family groups distributions that package and configure alike.
type Family string

// Families known to openim-deploy. FamilyUnknown is any other Linux.
const (
	FamilyDebian  Family = "debian" // Debian, Ubuntu, Raspbian, Mint…
	FamilyRHEL    Family = "rhel"   // RHEL, CentOS, Rocky, AlmaLinux, Oracle Linux
	FamilyFedora  Family = "fedora"
	FamilyAmazon  Family = "amazon" // Amazon Linux
	FamilySUSE    Family = "suse"   // SLES, openSUSE Leap and Tumbleweed
	FamilyAlpine  Family = "alpine"
	FamilyUnknown Family = "unknown"
)

// OS is the identity of a host's distribution, from os-release(5).
type OS struct {
	ID         string   // "debian", "rocky", "opensuse-leap"; "linux" when unset
	IDLike     []string // ID_LIKE, in file order
	Name       string   // NAME
	VersionID  string   // VERSION_ID: "12", "22.04", "9.3"; "" on rolling releases
	PrettyName string   // PRETTY_NAME, falling back to NAME and VERSION_ID
	Family     Family
}

// String returns PrettyName.
func (o OS) String() string { return o.PrettyName }

// familyByID maps an ID, or an entry of ID_LIKE, to its family.
var familyByID = map[string]Family{
	"debian": FamilyDebian, "ubuntu": FamilyDebian, "raspbian": FamilyDebian,
	"linuxmint": FamilyDebian, "pop": FamilyDebian, "kali": FamilyDebian,
	"rhel": FamilyRHEL, "centos": FamilyRHEL, "rocky": FamilyRHEL,
	"almalinux": FamilyRHEL, "ol": FamilyRHEL, "scientific": FamilyRHEL,
	"fedora":              FamilyFedora,
	"amzn":                FamilyAmazon,
	"suse":                FamilySUSE,
	"opensuse":            FamilySUSE,
	"opensuse-leap":       FamilySUSE,
	"opensuse-tumbleweed": FamilySUSE,
	"sles":                FamilySUSE, "sled": FamilySUSE, "sle-micro": FamilySUSE,
	"alpine": FamilyAlpine,
}

// ErrNoOSRelease means the data held no KEY=value assignment at all.
var ErrNoOSRelease = errors.New("os-release: no KEY=value lines")

// ParseOSRelease parses the content of /etc/os-release (os-release(5)):
// KEY=value lines, values optionally in single or double quotes, with
// backslash escapes of \ " $ ` inside double quotes. Comments, blank lines
// and malformed lines are skipped, as systemd does. It fails only when no
// assignment was found.
//
// Family comes from ID, then from the first entry of ID_LIKE that is known:
// Rocky ("rhel centos fedora") is rhel, RHEL itself ("fedora") is rhel by ID.
func ParseOSRelease(b []byte) (OS, error) {
	vars := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || !validKey(k) {
			continue
		}
		val, ok := unquote(strings.TrimSpace(v))
		if !ok {
			continue
		}
		vars[k] = val
	}
	if err := sc.Err(); err != nil {
		return OS{}, fmt.Errorf("os-release: %w", err)
	}
	if len(vars) == 0 {
		return OS{}, ErrNoOSRelease
	}
	o := OS{
		ID:         strings.ToLower(vars["ID"]),
		IDLike:     strings.Fields(strings.ToLower(vars["ID_LIKE"])),
		Name:       vars["NAME"],
		VersionID:  vars["VERSION_ID"],
		PrettyName: vars["PRETTY_NAME"],
	}
	if o.ID == "" {
		o.ID = "linux" // os-release(5) default
	}
	if o.Name == "" {
		o.Name = "Linux"
	}
	if o.PrettyName == "" {
		o.PrettyName = strings.TrimSpace(o.Name + " " + o.VersionID)
	}
	o.Family = FamilyUnknown
	for _, id := range slices.Concat([]string{o.ID}, o.IDLike) {
		if f, ok := familyByID[id]; ok {
			o.Family = f
			break
		}
	}
	return o, nil
}

func validKey(k string) bool {
	if k == "" {
		return false
	}
	for i, r := range k {
		switch {
		case r >= 'A' && r <= 'Z', r == '_':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// unquote undoes the shell-like quoting os-release allows. An unterminated
// quote makes the line invalid.
func unquote(v string) (string, bool) {
	if v == "" {
		return "", true
	}
	switch q := v[0]; q {
	case '\'':
		if len(v) < 2 || v[len(v)-1] != '\'' {
			return "", false
		}
		return v[1 : len(v)-1], true
	case '"':
		var b strings.Builder
		for i := 1; i < len(v); i++ {
			c := v[i]
			switch {
			case c == '\\' && i+1 < len(v) && strings.IndexByte("\\\"$`", v[i+1]) >= 0:
				i++
				b.WriteByte(v[i])
			case c == '"':
				if i != len(v)-1 {
					return "", false // text after the closing quote
				}
				return b.String(), true
			default:
				b.WriteByte(c)
			}
		}
		return "", false
	default:
		return v, true
	}
}
