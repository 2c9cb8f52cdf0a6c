package audit

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// moduleRoot is the directory holding go.mod, two levels up.
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root: %v", err)
	}
	return root
}

// TestNoInsecureHostKeyInProduction fails when a non-test Go file of the
// module switches host key checking off. Tests may (the in-process hosts
// use fresh keys); the shipped binary never does.
func TestNoInsecureHostKeyInProduction(t *testing.T) {
	root := moduleRoot(t)
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "testdata", ".git", "_output", "lab":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		found, err := InsecureHostKeyUses(path, src)
		if err != nil {
			return err
		}
		for _, f := range found {
			t.Error(f)
		}
		checked++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 20 { // the walk must have seen the module's sources
		t.Fatalf("checked only %d files under %s", checked, root)
	}
}

// TestInsecureHostKeyUsesDetects pins what the detector catches, so the
// repository check above cannot pass by detecting nothing.
func TestInsecureHostKeyUsesDetects(t *testing.T) {
	for name, tc := range map[string]struct {
		src  string
		want int
	}{
		"insecure call": {`package p
import "golang.org/x/crypto/ssh"
var c = &ssh.ClientConfig{HostKeyCallback: ssh.InsecureIgnoreHostKey()}`, 1},
		"accept-all field": {`package p
import "golang.org/x/crypto/ssh"
var c = &ssh.ClientConfig{HostKeyCallback: func(h string, r net.Addr, k ssh.PublicKey) error { return nil }}`, 1},
		"accept-all variable": {`package p
func f() { cb := func(string, net.Addr, ssh.PublicKey) error { return nil }; _ = cb }`, 1},
		"accept-all untyped field": {`package p
var c = T{HostKeyCallback: func(a, b, k any) error { return nil }}`, 1},
		"checking callback": {`package p
var c = &ssh.ClientConfig{HostKeyCallback: func(h string, r net.Addr, k ssh.PublicKey) error { return db(h, r, k) }}`, 0},
		"string mention": {`package p
// InsecureIgnoreHostKey is never used.
const s = "InsecureIgnoreHostKey"`, 0},
	} {
		t.Run(name, func(t *testing.T) {
			found, err := InsecureHostKeyUses("x.go", []byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			if len(found) != tc.want {
				t.Errorf("found %q, want %d finding(s)", found, tc.want)
			}
		})
	}
}

// minCrypto is the oldest golang.org/x/crypto without the known ssh/agent
// and known_hosts flaws this tool would be exposed to.
const minCrypto = "v0.52.0"

// TestCryptoVersion fails when the module graph selects an x/crypto older
// than minCrypto. It asks the go command (test binaries carry no
// dependency list in their build info).
func TestCryptoVersion(t *testing.T) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{if .Replace}}{{.Replace.Version}}{{else}}{{.Version}}{{end}}", "golang.org/x/crypto")
	cmd.Dir = moduleRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -m golang.org/x/crypto: %v", err)
	}
	have := strings.TrimSpace(string(out))
	ok, err := AtLeast(have, minCrypto)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Fatalf("golang.org/x/crypto is %s, want %s or newer", have, minCrypto)
	}
}

func TestAtLeast(t *testing.T) {
	for _, tc := range []struct {
		have string
		want bool
	}{
		{"v0.52.0", true}, {"v0.59.0", true}, {"v1.0.0", true}, {"v0.52.1", true},
		{"v0.51.9", false}, {"v0.9.0", false}, {"v0.52.0-rc.1", false},
		{"v0.52.1-0.20260101000000-abcdefabcdef", true},
	} {
		got, err := AtLeast(tc.have, minCrypto)
		if err != nil || got != tc.want {
			t.Errorf("AtLeast(%s, %s) = %v, %v; want %v", tc.have, minCrypto, got, err, tc.want)
		}
	}
}
