package release

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/openimsdk/openim-deploy/internal/layout"
	"github.com/openimsdk/openim-deploy/internal/systemd"
)

// State is what Gather read from one host.
type State struct {
	// RealRoot is the app root with every symlink resolved, as processes'
	// working directories are read; "" when the root does not exist.
	RealRoot string
	// Current is the release current points to; "" on a cold host.
	Current string
	// Releases maps every completed release to its manifest.
	Releases map[string]Manifest
	// Partials are releases left half built ("." + id + ".partial").
	Partials []string
	// Owned lists files under the unit directory this tool installed for
	// the app, relative to it, including drop-ins.
	Owned []string
	// Wants lists the units enabled into the app target.
	Wants []string
	// TaskRuns maps a task to the fingerprint it last succeeded with.
	TaskRuns map[string]string
	// CredKey is the key of the app's credential hashes on this host
	// (CredKeyName in the state directory); nil when it has none yet.
	CredKey []byte
	// Files maps each requested unit file or drop-in that exists to its content.
	Files map[string][]byte
	// Units holds systemd's view of each requested unit, in request order,
	// then of each of Extra.
	Units []systemd.UnitState
	// Extra are units the app target wants that were not requested, shown
	// after them (read with the ledger, for a rollback).
	Extra []string
	// Cwd maps a main PID to its working directory.
	Cwd map[int]string
	// Audit holds the last lines of the app's audit log, oldest first.
	Audit []string
	// Ledger holds the app's release ledger lines, oldest first, when asked.
	Ledger []string
	// Foreign lists the requested files (paths apply would write) that are
	// there and were not written by the tool for this app, in request order.
	Foreign []Foreign
}

// ReleaseOf returns the release a process with working directory cwd runs,
// comparing against the resolved root when the host reported one (cwd is
// read resolved), else against root as configured.
func (s *State) ReleaseOf(root, cwd string) string {
	if s.RealRoot != "" {
		root = s.RealRoot
	}
	return ReleaseOf(root, cwd)
}

// Foreign is a file in the way of one the app would write: no header of
// the app (none, or another app's), or not a regular file at all.
type Foreign struct {
	Rel  string // relative to the unit directory
	Kind string // "file", "link", "other" or "shadows"
	// What is the file's first line, where a link points, or the unit shadowed.
	What string
}

// IDs returns the completed releases, oldest first (ids sort by time).
func (s *State) IDs() []string {
	ids := make([]string, 0, len(s.Releases))
	for id := range s.Releases {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// shared keeps one copy of what the reads of many hosts hold alike: unit
// file text and release manifests are the same on every host of a fleet,
// and a read of 1000 hosts would otherwise keep 1000 copies of each. What
// it hands out is shared: callers must not change it.
var shared = struct {
	sync.Mutex
	files     map[string][]byte
	strings   map[string]string
	manifests map[[sha256.Size]byte]Manifest
}{files: map[string][]byte{}, strings: map[string]string{}, manifests: map[[sha256.Size]byte]Manifest{}}

// sharedFile returns the one copy of content b.
func sharedFile(b []byte) []byte {
	shared.Lock()
	defer shared.Unlock()
	if c, ok := shared.files[string(b)]; ok {
		return c
	}
	c := bytes.Clone(b)
	shared.files[string(c)] = c
	return c
}

// sharedString returns the one copy of the text of b: the names a read
// keeps (units installed, enabled, their working directories) are the
// same on every host of a fleet.
func sharedString(b []byte) string {
	shared.Lock()
	defer shared.Unlock()
	if s, ok := shared.strings[string(b)]; ok {
		return s
	}
	s := string(b)
	shared.strings[s] = s
	return s
}

// manifestBlock collects one "manifest ID" block as it is parsed (its
// lines, hashed) and, once complete, records the one copy of a manifest
// with the same id and the same lines in the same order (the release's
// .manifest file printed as it is): the map is built only for the first
// host that reports it.
type manifestBlock struct {
	id    string
	valid bool     // a release id: the manifest is recorded
	lines [][]byte // each line's text after "m "
	sum   hash.Hash
}

func (b *manifestBlock) start(id string) {
	b.id, b.valid, b.lines, b.sum = id, layout.ValidReleaseID(id), b.lines[:0], sha256.New()
	b.sum.Write([]byte(id))
}

// line adds the block's line l, "m " and then arg.
func (b *manifestBlock) line(l, arg []byte) {
	if b.sum != nil {
		b.sum.Write([]byte{'\n'})
		b.sum.Write(l)
		b.lines = append(b.lines, arg)
	}
}

// end records the block's manifest in s: the shared copy, or the one it
// builds and shares.
func (b *manifestBlock) end(s *State) {
	if b.sum == nil {
		return
	}
	var key [sha256.Size]byte
	b.sum.Sum(key[:0])
	b.sum = nil
	if !b.valid {
		return
	}
	shared.Lock()
	defer shared.Unlock()
	if m, ok := shared.manifests[key]; ok {
		s.Releases[b.id] = m
		return
	}
	m := Manifest{}
	for _, l := range b.lines {
		// "SUM  PATH"; sha256sum escapes odd names with a backslash: not
		// ours.
		sum, rel, ok := bytes.Cut(l, []byte("  "))
		if !ok || len(sum) != 64 || sum[0] == '\\' {
			continue
		}
		m[string(rel)] = string(sum)
	}
	shared.manifests[key] = m
	s.Releases[b.id] = m
}

// ParseGather parses the output of the gather script.
func ParseGather(out []byte) (*State, error) {
	s := &State{Releases: map[string]Manifest{}, TaskRuns: map[string]string{}, Files: map[string][]byte{}, Cwd: map[int]string{}}
	var block manifestBlock
	defer block.end(s)
	for len(out) > 0 {
		line, rest, _ := bytes.Cut(out, []byte("\n"))
		out = rest
		// Only what is kept becomes a string: most lines are a manifest's,
		// shared by every host that reports the same one.
		w, a, _ := bytes.Cut(line, []byte(" "))
		word := string(w)
		if word != "m" {
			block.end(s)
		}
		switch word {
		case "realroot":
			s.RealRoot = sharedString(a)
		case "current":
			s.Current = sharedString(a)
		case "manifest":
			block.start(string(a))
		case "m":
			block.line(line, a) // outside a manifest block: ignored
		case "partial":
			s.Partials = append(s.Partials, string(a))
		case "owned":
			s.Owned = append(s.Owned, sharedString(a))
		case "foreign":
			arg := string(a)
			rel, rest, _ := strings.Cut(arg, " ")
			kind, what, _ := strings.Cut(rest, " ")
			s.Foreign = append(s.Foreign, Foreign{Rel: rel, Kind: kind, What: what})
		case "wants":
			s.Wants = append(s.Wants, sharedString(a))
		case "extra":
			s.Extra = append(s.Extra, sharedString(a))
		case "ran":
			task, fp, _ := bytes.Cut(a, []byte(" "))
			s.TaskRuns[sharedString(task)] = sharedString(fp)
		case "credkey":
			k, err := hex.DecodeString(string(a))
			if err != nil || len(k) != CredKeySize {
				return nil, fmt.Errorf("gather: the credential key in %s is not %d bytes of hex", CredKeyName, CredKeySize)
			}
			s.CredKey = k
		case "file":
			name, size, ok := strings.Cut(string(a), " ")
			n, err := strconv.Atoi(size)
			if !ok || err != nil || n < 0 || n > len(out) {
				return nil, fmt.Errorf("gather: bad file header %q", line)
			}
			s.Files[name] = sharedFile(out[:n])
			out = out[n:]
		case "sizes":
			// "wc -c" of the files, then their bytes in the same order.
			end := bytes.Index(out, []byte("endsizes\n"))
			if end < 0 || (end > 0 && out[end-1] != '\n') {
				return nil, fmt.Errorf("gather: unterminated file sizes")
			}
			sizes := out[:end]
			out = out[end+len("endsizes\n"):]
			for _, l := range strings.Split(strings.TrimSuffix(string(sizes), "\n"), "\n") {
				size, name, ok := strings.Cut(strings.TrimLeft(l, " \t"), " ")
				name = strings.TrimLeft(name, " \t")
				if name == "total" {
					continue // wc's sum line: every file asked for has a suffix
				}
				n, err := strconv.Atoi(size)
				if !ok || err != nil || n < 0 || n > len(out) {
					return nil, fmt.Errorf("gather: bad file size line %q", l)
				}
				s.Files[name] = sharedFile(out[:n])
				out = out[n:]
			}
		case "show":
			end := bytes.Index(out, []byte("\nendshow\n"))
			if end < 0 {
				return nil, fmt.Errorf("gather: unterminated systemctl show output")
			}
			units, err := systemd.ParseShow(out[:end+1])
			if err != nil {
				return nil, fmt.Errorf("gather: %w", err)
			}
			s.Units = units
			out = out[end+len("\nendshow\n"):]
		case "audit":
			s.Audit = append(s.Audit, string(a))
		case "ledger":
			s.Ledger = append(s.Ledger, string(a))
		case "pid":
			pid, cwd, _ := bytes.Cut(a, []byte(" "))
			n, err := strconv.Atoi(string(pid))
			if err != nil {
				return nil, fmt.Errorf("gather: bad pid line %q", line)
			}
			s.Cwd[n] = sharedString(cwd)
		case "":
		default:
			return nil, fmt.Errorf("gather: unexpected line %q", line)
		}
	}
	return s, nil
}

// ParseReleaseUnits parses the output of the units script: the unit files
// kept in each release, by release id and file name.
func ParseReleaseUnits(out []byte) (map[string]map[string][]byte, error) {
	units := map[string]map[string][]byte{}
	var cur map[string][]byte
	for len(out) > 0 {
		line, rest, _ := bytes.Cut(out, []byte("\n"))
		out = rest
		word, arg, _ := strings.Cut(string(line), " ")
		switch word {
		case "release":
			cur = map[string][]byte{}
			if layout.ValidReleaseID(arg) {
				units[arg] = cur
			}
		case "file":
			name, size, ok := strings.Cut(arg, " ")
			n, err := strconv.Atoi(size)
			if !ok || err != nil || n < 0 || n > len(out) || cur == nil {
				return nil, fmt.Errorf("release units: bad file header %q", line)
			}
			cur[name] = append([]byte(nil), out[:n]...)
			out = out[n:]
		case "":
		default:
			return nil, fmt.Errorf("release units: unexpected line %q", line)
		}
	}
	return units, nil
}
