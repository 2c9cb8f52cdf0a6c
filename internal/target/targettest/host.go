package targettest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Host is an in-process SSH server with exec and SFTP, rooted at a temp dir.
// It listens on 127.0.0.1:0 and is closed by t.Cleanup.
type Host struct {
	Addr           string // "127.0.0.1:40123"
	Port           int
	KnownHostsPath string // known_hosts pinning this host's key under [127.0.0.1]:Port
	KeyPath        string // unencrypted OpenSSH private key the host accepts
	Root           string // "/" of the host as seen by SFTP and the built-in interpreter
	User           string // login user the built-in interpreter reports ("root")

	ClientKey ssh.Signer // the key at KeyPath

	t      testing.TB
	ln     net.Listener
	interp Interpreter
	wg     sync.WaitGroup

	mu        sync.Mutex
	hostKey   ssh.Signer
	extraKeys []ssh.Signer
	auth      map[string]bool // authorized client keys, by marshalled bytes
	conns     map[net.Conn]bool
	stall     bool
	dropAfter int64 // >0: next SFTP upload drops the connection after this many bytes
	fullAfter int64 // >0: next SFTP upload fails its writes after this many bytes (a full disk)
	dropSess  bool
	mute      bool
	commands  []string
	closed    bool

	maxSessions  int      // >0: refuse sessions beyond this many per connection
	noForward    bool     // refuse direct-tcpip
	kex          []string // key exchanges offered; nil: x/crypto's defaults
	peakSessions int      // most sessions open at once on one connection
	refusals     int      // sessions refused for MaxSessions
	refusedc     chan struct{}
	accepted     int // TCP connections accepted so far
}

// Connections returns how many TCP connections the host has accepted.
func (h *Host) Connections() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.accepted
}

// Refused receives once per session refused for WithMaxSessions (up to
// 64 unread), so a test can wait for a refusal instead of polling.
func (h *Host) Refused() <-chan struct{} { return h.refusedc }

// SessionStats returns the most session channels that were open at once on
// one connection, and how many were refused for WithMaxSessions.
func (h *Host) SessionStats() (peak, refused int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.peakSessions, h.refusals
}

// HostOption configures NewHost.
type HostOption func(*hostConfig)

type hostConfig struct {
	interp      Interpreter
	commands    map[string]Interpreter
	extra       []ssh.Signer
	maxSessions int
	noForward   bool
	kex         []string
}

// WithMaxSessions makes the host refuse a session channel (exec or SFTP)
// while n are open on the same connection, as sshd's MaxSessions does:
// an open failure, the connection left healthy.
func WithMaxSessions(n int) HostOption {
	return func(c *hostConfig) { c.maxSessions = n }
}

// WithoutTCPForwarding makes the host refuse direct-tcpip channels, as
// sshd with "AllowTcpForwarding no" does.
func WithoutTCPForwarding() HostOption {
	return func(c *hostConfig) { c.noForward = true }
}

// WithExtraHostKeys makes the host offer these keys as well as its own
// ed25519 key; known_hosts still pins only the ed25519 one. Use it to test
// that clients negotiate the algorithm they have on record.
func WithExtraHostKeys(keys ...ssh.Signer) HostOption {
	return func(c *hostConfig) { c.extra = append(c.extra, keys...) }
}

// WithKeyExchanges makes the host offer only these key exchange
// algorithms (x/crypto/ssh names), as sshd's KexAlgorithms does: to play
// an sshd of a given version.
func WithKeyExchanges(algos ...string) HostOption {
	return func(c *hostConfig) { c.kex = append(c.kex, algos...) }
}

// WithInterpreter replaces the built-in command interpreter entirely.
func WithInterpreter(fn Interpreter) HostOption {
	return func(c *hostConfig) { c.interp = fn }
}

// WithCommand adds (or overrides) one command of the built-in interpreter.
// args[0] is the command name.
func WithCommand(name string, fn Interpreter) HostOption {
	return func(c *hostConfig) { c.commands[name] = fn }
}

// NewHost starts a host and writes its known_hosts and client key into
// t.TempDir().
func NewHost(t testing.TB, opts ...HostOption) *Host {
	t.Helper()
	cfg := hostConfig{commands: map[string]Interpreter{}}
	for _, o := range opts {
		o(&cfg)
	}
	dir := t.TempDir()
	h := &Host{
		t:     t,
		Root:  filepath.Join(dir, "root"),
		User:  "root",
		auth:  map[string]bool{},
		conns: map[net.Conn]bool{},

		refusedc: make(chan struct{}, 64),
	}
	if err := os.MkdirAll(h.Root, 0o755); err != nil {
		t.Fatal(err)
	}
	h.hostKey, _ = newKey(t)
	h.extraKeys = cfg.extra
	h.maxSessions, h.noForward, h.kex = cfg.maxSessions, cfg.noForward, cfg.kex
	var clientPriv ed25519.PrivateKey
	h.ClientKey, clientPriv = newKey(t)
	h.Authorize(h.ClientKey.PublicKey())

	h.interp = cfg.interp
	if h.interp == nil {
		h.interp = newShell(h.Root, cfg.commands).run
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.ln = ln
	h.Addr = ln.Addr().String()
	h.Port = ln.Addr().(*net.TCPAddr).Port

	h.KeyPath = filepath.Join(dir, "id_ed25519")
	writeKey(t, h.KeyPath, clientPriv)
	h.KnownHostsPath = filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(h.KnownHostsPath, []byte(h.KnownHostsLine()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	h.wg.Add(1)
	go h.serve()
	t.Cleanup(h.Close)
	return h
}

// KnownHostsLine is this host's known_hosts entry ("[127.0.0.1]:port ssh-ed25519 AAAA...").
func (h *Host) KnownHostsLine() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return knownhosts.Line([]string{knownhosts.Normalize(h.Addr)}, h.hostKey.PublicKey())
}

// HostKey is the public host key the host presents now.
func (h *Host) HostKey() ssh.PublicKey {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.hostKey.PublicKey()
}

// RotateHostKey gives the host a fresh key, as a reinstall would. The
// known_hosts file at KnownHostsPath is left pinning the old key.
func (h *Host) RotateHostKey() {
	s, _ := newKey(h.t)
	h.mu.Lock()
	h.hostKey = s
	h.mu.Unlock()
}

// Authorize lets clients holding key log in (for example another Host's
// ClientKey, so one identity works on both hops of a bastion test).
func (h *Host) Authorize(key ssh.PublicKey) {
	h.mu.Lock()
	h.auth[string(key.Marshal())] = true
	h.mu.Unlock()
}

// Stall makes the host accept new TCP connections and never send its SSH
// banner, like a wedged sshd or a tarpit.
func (h *Host) Stall() { h.mu.Lock(); h.stall = true; h.mu.Unlock() }

// DropAfterBytes makes the next SFTP upload close the whole SSH connection
// once n bytes of file data have been written.
func (h *Host) DropAfterBytes(n int64) { h.mu.Lock(); h.dropAfter = n; h.mu.Unlock() }

// FillDiskAfterBytes makes the next SFTP upload's writes fail once n bytes
// are written, as a filesystem that runs out of space does: the server
// answers SSH_FX_FAILURE, as OpenSSH's sftp-server does for ENOSPC, and the
// connection stays up.
func (h *Host) FillDiskAfterBytes(n int64) { h.mu.Lock(); h.fullAfter = n; h.mu.Unlock() }

// DropSessions makes exec sessions end without an exit status: the command
// runs, then the channel closes (the client sees *ssh.ExitMissingError).
func (h *Host) DropSessions(on bool) { h.mu.Lock(); h.dropSess = on; h.mu.Unlock() }

// MuteKeepalives makes the host stop answering global requests such as
// keepalive@openssh.com, as a peer that vanished without a FIN would.
func (h *Host) MuteKeepalives() { h.mu.Lock(); h.mute = true; h.mu.Unlock() }

// Commands returns the exec command lines received so far, in order.
func (h *Host) Commands() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.commands...)
}

// Path maps an absolute path on the host to the local path under Root.
func (h *Host) Path(p string) string { return rooted(h.Root, p) }

// Close stops the listener, closes every connection and waits for them.
func (h *Host) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	h.ln.Close()
	for c := range h.conns {
		c.Close()
	}
	h.mu.Unlock()
	h.wg.Wait()
}

func (h *Host) serve() {
	defer h.wg.Done()
	for {
		nc, err := h.ln.Accept()
		if err != nil {
			return
		}
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			nc.Close()
			return
		}
		h.conns[nc] = true
		h.accepted++
		stall := h.stall
		h.mu.Unlock()
		if stall {
			continue // held open and silent until Close
		}
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			defer h.forget(nc)
			h.handleConn(nc)
		}()
	}
}

func (h *Host) forget(nc net.Conn) {
	nc.Close()
	h.mu.Lock()
	delete(h.conns, nc)
	h.mu.Unlock()
}

func (h *Host) serverConfig() *ssh.ServerConfig {
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			h.mu.Lock()
			ok := h.auth[string(key.Marshal())]
			h.mu.Unlock()
			if !ok {
				return nil, errors.New("targettest: key not authorized")
			}
			return &ssh.Permissions{}, nil
		},
	}
	cfg.KeyExchanges = h.kex // nil: x/crypto's defaults
	h.mu.Lock()
	for _, k := range h.extraKeys {
		cfg.AddHostKey(k)
	}
	cfg.AddHostKey(h.hostKey) // last: replaces an extra key of the same type
	h.mu.Unlock()
	return cfg
}

func (h *Host) handleConn(nc net.Conn) {
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	sconn, chans, reqs, err := ssh.NewServerConn(nc, h.serverConfig())
	if err != nil {
		return
	}
	_ = nc.SetDeadline(time.Time{})
	defer sconn.Close()
	go h.globalRequests(reqs)
	var wg sync.WaitGroup
	defer wg.Wait()
	open := 0 // sessions open on this connection, under h.mu
	for nch := range chans {
		switch nch.ChannelType() {
		case "session":
			h.mu.Lock()
			if h.maxSessions > 0 && open >= h.maxSessions {
				h.refusals++
				h.mu.Unlock()
				select {
				case h.refusedc <- struct{}{}:
				default:
				}
				_ = nch.Reject(ssh.Prohibited, "open failed") // what sshd says past MaxSessions
				continue
			}
			open++
			h.peakSessions = max(h.peakSessions, open)
			h.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				h.session(nc, nch)
				h.mu.Lock()
				open--
				h.mu.Unlock()
			}()
		case "direct-tcpip":
			h.mu.Lock()
			noForward := h.noForward
			h.mu.Unlock()
			if noForward {
				_ = nch.Reject(ssh.Prohibited, "administratively prohibited")
				continue
			}
			wg.Add(1)
			go func() { defer wg.Done(); h.directTCPIP(nch) }()
		default:
			_ = nch.Reject(ssh.UnknownChannelType, "unsupported channel type")
		}
	}
}

// globalRequests answers keepalive@openssh.com and friends with a failure,
// as sshd does, unless muted.
func (h *Host) globalRequests(reqs <-chan *ssh.Request) {
	for req := range reqs {
		h.mu.Lock()
		mute := h.mute
		h.mu.Unlock()
		if req.WantReply && !mute {
			_ = req.Reply(false, nil)
		}
	}
}

// newKey returns a fresh ed25519 key as a signer and as the raw key.
func newKey(t testing.TB) (ssh.Signer, ed25519.PrivateKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s, priv
}

// writeKey writes priv as an unencrypted OpenSSH private key file.
func writeKey(t testing.TB, path string, priv ed25519.PrivateKey) {
	t.Helper()
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
}

// rooted joins p under root without letting ".." escape it.
func rooted(root, p string) string {
	return filepath.Join(root, filepath.Clean("/"+p))
}
