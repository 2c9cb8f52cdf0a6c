package remote

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/openimsdk/openim-deploy/internal/target"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// hostKeyChecker verifies host keys strictly against the user's known_hosts
// file and the system-wide ones, in OpenSSH's format (hashed names,
// [host]:port, wildcards, @revoked), and optionally records the key of a
// host that has none on record (in the user's file only, as ssh does).
type hostKeyChecker struct {
	file      string   // the user's file: where accepted keys are appended
	global    []string // system files that exist, read only
	acceptNew bool
	db        ssh.HostKeyCallback // nil when no file exists yet

	mu  sync.Mutex
	err error // the verdict of the last callback, for Dial's error
}

// appendMu serialises appends within this process; flock covers other processes.
var appendMu sync.Mutex

// newHostKeyChecker reads file and the global files, through cache when it
// is not nil. Files that do not exist are skipped: a fresh machine has
// neither ~/.ssh/known_hosts nor /etc/ssh/ssh_known_hosts, and every host
// is then unknown.
func newHostKeyChecker(file string, global []string, acceptNew bool, cache *knownHostsCache) (*hostKeyChecker, error) {
	k := &hostKeyChecker{file: file, acceptNew: acceptNew}
	var files []string
	var stamp strings.Builder
	for _, f := range append([]string{file}, global...) {
		fi, err := os.Stat(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		files = append(files, f)
		if f != file {
			k.global = append(k.global, f)
		}
		if err == nil {
			fmt.Fprintf(&stamp, "%s|%s\x00", f, fileStamp(fi))
		}
	}
	if len(files) == 0 {
		return k, nil
	}
	db, err := cache.load(files, stamp.String())
	if err != nil {
		return nil, fmt.Errorf("known_hosts: %w", err)
	}
	k.db = db
	return k, nil
}

// knownHostsCache parses a set of known_hosts files once for every
// connection that checks against it, not once per connection: an operator's
// known_hosts holds a line per host, so parsing it per connection made
// connecting to n hosts cost O(n^2) (at 500 hosts, most of a run's
// allocation). An entry is reused only while every file still has the
// size, modification time and inode it had when parsed, so a key appended
// by --accept-new (ours or another process's) is seen by the next
// connection. The parsed database is read-only, so one callback serves
// concurrent handshakes. The nil cache parses every time.
type knownHostsCache struct {
	mu  sync.Mutex
	dbs map[string]parsedKnownHosts // by file list
}

// fileStamp identifies one version of a file: size, modification time,
// and on Unix device, inode and change time (which any write, rename or
// touch moves, even one that keeps size and mtime).
func fileStamp(fi os.FileInfo) string {
	s := fmt.Sprintf("%d|%d", fi.Size(), fi.ModTime().UnixNano())
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s += fmt.Sprintf("|%d|%d|%d.%d", st.Dev, st.Ino, st.Ctim.Sec, st.Ctim.Nsec)
	}
	return s
}

type parsedKnownHosts struct {
	stamp string // what the files were when parsed
	db    ssh.HostKeyCallback
}

func (c *knownHostsCache) load(files []string, stamp string) (ssh.HostKeyCallback, error) {
	if c == nil {
		return knownhosts.New(files...)
	}
	key := strings.Join(files, "\x00")
	c.mu.Lock()
	defer c.mu.Unlock() // one parse per change, however many hosts connect at once
	if p, ok := c.dbs[key]; ok && p.stamp == stamp && stamp != "" {
		return p.db, nil
	}
	db, err := knownhosts.New(files...)
	if err != nil {
		return nil, err
	}
	if idx, ok := indexKnownHosts(files); ok {
		db = idx.callback(db) // a lookup per host, not a scan of every line
	}
	if c.dbs == nil {
		c.dbs = map[string]parsedKnownHosts{}
	}
	c.dbs[key] = parsedKnownHosts{stamp: stamp, db: db}
	return db, nil
}

// algorithms returns the host key algorithms to offer for addr: those of
// the keys on record, so a host that also has, say, an RSA key cannot make
// us fail against our ed25519 entry (golang/go#29286). nil means "any",
// for hosts with nothing on record.
func (k *hostKeyChecker) algorithms(addr string) []string {
	known := k.known(addr)
	var algos []string
	seen := map[string]bool{}
	for _, kk := range known {
		for _, a := range algorithmsFor(kk.Key.Type()) {
			if !seen[a] {
				seen[a] = true
				algos = append(algos, a)
			}
		}
	}
	return algos
}

func algorithmsFor(keyType string) []string {
	if keyType == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{keyType}
}

// known lists the keys on record for addr, by asking the database about a
// throwaway key: the KeyError it returns lists every matching line.
func (k *hostKeyChecker) known(addr string) []knownhosts.KnownKey {
	if k.db == nil {
		return nil
	}
	probe := probeKey()
	if probe == nil {
		return nil
	}
	var ke *knownhosts.KeyError
	if errors.As(k.db(addr, placeholderAddr, probe), &ke) {
		return ke.Want
	}
	return nil
}

// probeKey is the throwaway key known asks about: made once per process
// (a key pair costs a scalar multiplication), never on record anywhere.
var probeKey = sync.OnceValue(func() ssh.PublicKey {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil
	}
	return k
})

// placeholderAddr is passed as the remote address: knownhosts prefers the
// host name we dialled, which is what known_hosts is keyed by.
var placeholderAddr = &net.TCPAddr{IP: net.IPv4zero, Port: 22}

// check is the ssh.HostKeyCallback.
func (k *hostKeyChecker) check(addr string, remote net.Addr, key ssh.PublicKey) error {
	err := k.verify(addr, remote, key)
	k.mu.Lock()
	k.err = err
	k.mu.Unlock()
	return err
}

// refused returns the host key error of the last handshake, if any.
func (k *hostKeyChecker) refused() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.err
}

func (k *hostKeyChecker) verify(addr string, remote net.Addr, key ssh.PublicKey) error {
	var err error
	if k.db != nil {
		err = k.db(addr, remote, key)
	} else {
		err = &knownhosts.KeyError{}
	}
	var ke *knownhosts.KeyError
	var re *knownhosts.RevokedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &re):
		return &hostKeyError{kind: target.ErrHostKeyMismatch, msg: fmt.Sprintf(
			"host key %s %s for %s is marked @revoked at %s:%d",
			key.Type(), ssh.FingerprintSHA256(key), addr, re.Revoked.Filename, re.Revoked.Line)}
	case errors.As(err, &ke) && len(ke.Want) > 0:
		return mismatch(addr, key, ke.Want)
	case errors.As(err, &ke):
		if k.acceptNew {
			return k.appendKey(addr, remote, key)
		}
		return &hostKeyError{kind: target.ErrHostKeyUnknown, msg: fmt.Sprintf(
			"host key unknown for %s (%s %s): no entry in %s; verify the fingerprint and rerun with --accept-new to record it",
			addr, key.Type(), ssh.FingerprintSHA256(key), strings.Join(append([]string{k.file}, k.global...), " or "))}
	default:
		return fmt.Errorf("known_hosts: %w", err)
	}
}

func mismatch(addr string, key ssh.PublicKey, want []knownhosts.KnownKey) error {
	var b strings.Builder
	fmt.Fprintf(&b, "host key mismatch for %s: the host offered %s %s, but ", addr, key.Type(), ssh.FingerprintSHA256(key))
	for i, w := range want {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s:%d has %s %s", w.Filename, w.Line, w.Key.Type(), ssh.FingerprintSHA256(w.Key))
	}
	fmt.Fprintf(&b, "; if the host was reinstalled, verify the new key and remove the old entry (ssh-keygen -R %s -f %s)",
		target.Quote(knownhosts.Normalize(addr)), target.Quote(want[0].Filename))
	return &hostKeyError{kind: target.ErrHostKeyMismatch, msg: b.String()}
}

// appendKey records key for addr, under an exclusive lock on the file and
// only if, re-read under that lock, the file still has no key for addr (a
// concurrent connection to the same host may have recorded it meanwhile).
func (k *hostKeyChecker) appendKey(addr string, remote net.Addr, key ssh.PublicKey) error {
	appendMu.Lock()
	defer appendMu.Unlock()
	if err := os.MkdirAll(filepath.Dir(k.file), 0o700); err != nil {
		return fmt.Errorf("known_hosts: %w", err)
	}
	f, err := os.OpenFile(k.file, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("known_hosts: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("known_hosts: lock %s: %w", k.file, err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN) //nolint:errcheck // released on close anyway

	fresh, err := newHostKeyChecker(k.file, k.global, false, nil) // re-read under the lock, never cached
	if err != nil {
		return err
	}
	if fresh.db != nil {
		var ke *knownhosts.KeyError
		switch err := fresh.db(addr, remote, key); {
		case err == nil:
			return nil
		case errors.As(err, &ke) && len(ke.Want) > 0:
			return mismatch(addr, key, ke.Want)
		}
	}
	line := knownhosts.Line([]string{knownhosts.Normalize(addr)}, key) + "\n"
	if needsNewline(f) {
		line = "\n" + line
	}
	if _, err := f.WriteString(line); err != nil {
		return fmt.Errorf("known_hosts: append to %s: %w", k.file, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("known_hosts: %w", err)
	}
	return nil
}

// needsNewline reports whether f is non-empty and does not end in '\n'.
func needsNewline(f *os.File) bool {
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return false
	}
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, fi.Size()-1); err != nil && err != io.EOF {
		return false
	}
	return b[0] != '\n'
}

// hostKeyError is a refused host key. It satisfies errors.Is for its kind
// (ErrHostKeyMismatch or ErrHostKeyUnknown) and, as every connection
// failure does, for target.ErrUnreachable.
type hostKeyError struct {
	kind error
	msg  string
}

func (e *hostKeyError) Error() string { return e.msg }

func (e *hostKeyError) Is(t error) bool { return t == e.kind || t == target.ErrUnreachable }
