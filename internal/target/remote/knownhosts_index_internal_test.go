package remote

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// TestKnownHostsIndexAgreesWithXCrypto checks the index against x/crypto's
// own database on random known_hosts files (plain lines, several hosts
// and keys per line, ports, duplicates, comments) and random questions:
// the same verdict, and for a KeyError the same lines in the same order.
// Files the index does not cover must be refused by indexKnownHosts.
func TestKnownHostsIndexAgreesWithXCrypto(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	keys := make([]ssh.PublicKey, 6)
	for i := range keys {
		pub, _, err := ed25519.GenerateKey(seedReader{byte(i)})
		if err != nil {
			t.Fatal(err)
		}
		keys[i], _ = ssh.NewPublicKey(pub)
	}
	hosts := []string{"a", "b", "10.0.0.1", "10.0.0.2", "::1", "db.example"}
	ports := []string{"22", "2222", "40000"}
	pattern := func() string {
		h, p := hosts[rng.IntN(len(hosts))], ports[rng.IntN(len(ports))]
		if p == "22" && rng.IntN(2) == 0 {
			return h // port 22 written without brackets
		}
		return "[" + h + "]:" + p
	}
	dir := t.TempDir()
	for round := range 200 {
		var files []string
		for f := range 1 + rng.IntN(2) {
			var b strings.Builder
			for range rng.IntN(12) {
				switch rng.IntN(8) {
				case 0:
					b.WriteString("# a comment\n")
				case 1:
					b.WriteString("\n")
				default:
					names := []string{pattern()}
					for range rng.IntN(3) {
						names = append(names, pattern())
					}
					fmt.Fprintf(&b, "%s %s", strings.Join(names, ","), string(ssh.MarshalAuthorizedKey(keys[rng.IntN(len(keys))])))
				}
			}
			name := filepath.Join(dir, fmt.Sprintf("known_%d_%d", round, f))
			if err := os.WriteFile(name, []byte(b.String()), 0o600); err != nil {
				t.Fatal(err)
			}
			files = append(files, name)
		}
		full, err := knownhosts.New(files...)
		if err != nil {
			continue // x/crypto refuses it (no valid line): so does the cache
		}
		idx, ok := indexKnownHosts(files)
		if !ok {
			t.Fatalf("round %d: a file of plain lines is not indexed", round)
		}
		fast := idx.callback(full)
		for range 30 {
			host, port := hosts[rng.IntN(len(hosts))], ports[rng.IntN(len(ports))]
			addr := net.JoinHostPort(host, port)
			key := keys[rng.IntN(len(keys))]
			remote := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 22}
			want, got := full(addr, remote, key), fast(addr, remote, key)
			if verdict(want) != verdict(got) {
				t.Fatalf("round %d, %s: x/crypto says %s, the index %s", round, addr, verdict(want), verdict(got))
			}
		}
	}
}

// TestKnownHostsIndexRefusesWhatItCannotAnswer: a file with a hashed name,
// a wildcard, a negation, a marker or an invalid line is left to x/crypto.
func TestKnownHostsIndexRefusesWhatItCannotAnswer(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(seedReader{1})
	key, _ := ssh.NewPublicKey(pub)
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
	plain := "[10.0.0.1]:2222 " + line + "\n"
	for _, extra := range []string{
		knownhosts.HashHostname("10.0.0.2") + " " + line,
		"*.example " + line,
		"10.0.0.?" + " " + line,
		"a,!b " + line,
		"@revoked * " + line,
		"@cert-authority *.example " + line,
		"[10.0.0.3:22 " + line,                        // x/crypto skips this line
		"10.0.0.4 ssh-rsa " + strings.Fields(line)[1], // type mismatch
		"10.0.0.5",
	} {
		name := filepath.Join(t.TempDir(), "known_hosts")
		if err := os.WriteFile(name, []byte(plain+extra+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, ok := indexKnownHosts([]string{name}); ok {
			t.Errorf("indexed a file with %q", extra)
		}
	}
}

func verdict(err error) string {
	var ke *knownhosts.KeyError
	switch {
	case err == nil:
		return "accepted"
	case errors.As(err, &ke):
		var b strings.Builder
		b.WriteString("KeyError")
		for _, w := range ke.Want {
			fmt.Fprintf(&b, " %s:%d:%s", filepath.Base(w.Filename), w.Line, ssh.FingerprintSHA256(w.Key))
		}
		return b.String()
	default:
		return "error " + err.Error()
	}
}

// seedReader makes a deterministic key from one byte.
type seedReader struct{ b byte }

func (r seedReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.b + byte(i)
	}
	return len(p), nil
}
