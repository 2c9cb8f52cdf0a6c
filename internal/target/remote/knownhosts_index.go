package remote

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"net"
	"os"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// knownHostsIndex answers for a known_hosts database in which every line
// names its hosts plainly ("name", "10.0.0.7", "[10.0.0.7]:2222"): no
// hashed names, wildcards, negations or @markers. x/crypto's database
// reads every line for each host it checks, so connecting to n hosts of
// an n-line known_hosts (one line per host, as an operator's file is)
// costs n^2 pattern matches; for such a file the lines that can match a
// host are exactly those that name it, found by a map lookup. A file with
// anything else is left to x/crypto alone (indexKnownHosts says so).
//
// The answers are x/crypto's (TestKnownHostsIndexAgreesWithXCrypto): the
// same lines accepted, the same KnownKeys in the same order in a
// KeyError; a certificate, or an address x/crypto cannot split, is handed
// to it.
type knownHostsIndex map[hostPort][]knownhosts.KnownKey

type hostPort struct{ host, port string }

// indexKnownHosts reads files as knownhosts.New does and returns their
// index, or false when a line is not plain (or not valid).
func indexKnownHosts(files []string) (knownHostsIndex, bool) {
	idx := knownHostsIndex{}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, false
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		n := 0
		for sc.Scan() {
			n++
			line := bytes.Trim(sc.Bytes(), " \t")
			if len(line) == 0 || line[0] == '#' {
				continue
			}
			hosts, key, ok := plainLine(line)
			if !ok {
				return nil, false
			}
			for _, h := range hosts {
				idx[h] = append(idx[h], knownhosts.KnownKey{Key: key, Filename: name, Line: n})
			}
		}
		if sc.Err() != nil {
			return nil, false
		}
	}
	return idx, true
}

// plainLine parses one known_hosts line as x/crypto's knownhosts does, and
// reports whether it is valid and plain: every host pattern a literal
// name, with its port (22 when it has none).
func plainLine(line []byte) ([]hostPort, ssh.PublicKey, bool) {
	pattern, rest := nextField(line)
	if pattern == "" || pattern[0] == '@' || pattern[0] == '|' || len(rest) == 0 {
		return nil, nil, false // a marker, a hashed name, or no key
	}
	wantType, rest := nextField(rest)
	if len(rest) == 0 {
		return nil, nil, false
	}
	blob, _ := nextField(rest)
	raw, err := base64.StdEncoding.DecodeString(blob)
	if err != nil {
		return nil, nil, false
	}
	key, err := ssh.ParsePublicKey(raw)
	if err != nil || key.Type() != wantType {
		return nil, nil, false
	}
	var hosts []hostPort // each once: a line is one entry, however often it names a host
	for _, p := range strings.Split(pattern, ",") {
		if p == "" {
			continue
		}
		if strings.ContainsAny(p, "*?!") {
			return nil, nil, false
		}
		host, port, err := net.SplitHostPort(p)
		if err != nil {
			if p[0] == '[' {
				return nil, nil, false // x/crypto refuses the whole line
			}
			host, port = p, "22"
		}
		if hp := (hostPort{host, port}); !slices.Contains(hosts, hp) {
			hosts = append(hosts, hp)
		}
	}
	return hosts, key, true
}

// nextField splits off the first space- or tab-separated word of line.
func nextField(line []byte) (string, []byte) {
	i := bytes.IndexAny(line, "\t ")
	if i < 0 {
		return string(line), nil
	}
	return string(line[:i]), bytes.Trim(line[i:], " \t")
}

// callback is an ssh.HostKeyCallback answering from idx, handing to full
// (x/crypto's callback for the same files) what idx does not cover.
func (idx knownHostsIndex) callback(full ssh.HostKeyCallback) ssh.HostKeyCallback {
	return func(address string, remote net.Addr, key ssh.PublicKey) error {
		if _, cert := key.(*ssh.Certificate); cert {
			return full(address, remote, key)
		}
		host, port, err := net.SplitHostPort(remote.String())
		if err == nil && address != "" {
			host, port, err = net.SplitHostPort(address) // the name we dialled, by preference
		}
		if err != nil {
			return full(address, remote, key) // its error
		}
		ke := &knownhosts.KeyError{}
		blob := key.Marshal()
		for _, k := range idx[hostPort{host, port}] {
			ke.Want = append(ke.Want, k)
			if bytes.Equal(k.Key.Marshal(), blob) {
				return nil
			}
		}
		return ke
	}
}
