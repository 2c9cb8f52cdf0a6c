package remote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/openimsdk/openim-deploy/internal/target"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// unreachableError marks a failure to establish a connection: errors.Is
// matches target.ErrUnreachable, and the cause stays in the chain.
type unreachableError struct{ err error }

func (e *unreachableError) Error() string   { return e.err.Error() }
func (e *unreachableError) Unwrap() error   { return e.err }
func (e *unreachableError) Is(t error) bool { return t == target.ErrUnreachable }

func unreachable(err error) error {
	if errors.Is(err, target.ErrUnreachable) {
		return err
	}
	return &unreachableError{err}
}

// connectHop dials h (through proxy when non-nil) and does the SSH
// handshake, all within h.timeout, checking the host key against
// known_hosts as parsed by known (nil: parsed here). ssh.ClientConfig.Timeout only bounds the
// TCP dial, so the conn is closed when the budget runs out: a host that
// accepts TCP and never speaks fails in bounded time.
func connectHop(ctx context.Context, h *hop, proxy *ssh.Client, known *knownHostsCache) (*ssh.Client, error) {
	keys, err := newHostKeyChecker(h.knownHosts, h.globalKnownHosts, h.acceptNew, known)
	if err != nil {
		return nil, unreachable(err)
	}
	auth, closeAgent, err := authMethods(h)
	if err != nil {
		return nil, unreachable(err)
	}
	defer closeAgent()
	cfg := &ssh.ClientConfig{
		User:              h.user,
		Auth:              auth,
		HostKeyCallback:   keys.check,
		HostKeyAlgorithms: keys.algorithms(h.addr),
		Timeout:           h.timeout,
	}

	dctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	var nc net.Conn
	if proxy != nil {
		nc, err = proxy.DialContext(dctx, "tcp", h.addr)
	} else {
		nc, err = (&net.Dialer{Timeout: h.timeout}).DialContext(dctx, "tcp", h.addr)
	}
	if err != nil {
		return nil, unreachable(timeoutCause(ctx, dctx, h, err))
	}
	nc = h.counters.wrap(nc)
	// Over a proxied channel SetDeadline is unsupported; the AfterFunc
	// below covers that case (and ctx cancellation) by closing the conn.
	deadline, _ := dctx.Deadline()
	_ = nc.SetDeadline(deadline)
	stop := context.AfterFunc(dctx, func() { nc.Close() })
	conn, chans, reqs, err := ssh.NewClientConn(nc, h.addr, cfg)
	if !stop() && err == nil {
		conn.Close()
		err = dctx.Err()
	}
	if err != nil {
		nc.Close()
		if kerr := keys.refused(); kerr != nil {
			return nil, kerr
		}
		return nil, unreachable(timeoutCause(ctx, dctx, h, err))
	}
	_ = nc.SetDeadline(time.Time{})
	return ssh.NewClient(conn, chans, reqs), nil
}

// timeoutCause explains an error that happened because our budget ran out,
// rather than leaving a bare "use of closed network connection".
func timeoutCause(parent, dctx context.Context, h *hop, err error) error {
	switch {
	case parent.Err() != nil:
		return fmt.Errorf("%w (%w)", parent.Err(), err)
	case dctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded):
		// The conn deadline and dctx expire together; whichever the
		// handshake noticed first, the budget ran out.
		return fmt.Errorf("no SSH handshake within %s: %w", h.timeout, errors.Join(context.DeadlineExceeded, err))
	}
	return err
}

// authMethods offers the identity files first (so MaxAuthTries is spent on
// the key the inventory names), then the agent's keys. The agent is never
// forwarded: we only ever ask it to sign.
func authMethods(h *hop) ([]ssh.AuthMethod, func(), error) {
	var signers []ssh.Signer
	for i, f := range h.identities {
		s, err := loadSigner(f)
		if err != nil {
			if i == 0 && h.explicitID {
				return nil, nil, err
			}
			continue // an ssh_config IdentityFile we cannot use: the agent may have it
		}
		signers = append(signers, s)
	}
	closeAgent := func() {}
	if sock := os.Getenv("SSH_AUTH_SOCK"); h.agent && sock != "" {
		if ac, err := net.Dial("unix", sock); err == nil {
			closeAgent = func() { ac.Close() }
			if as, err := agent.NewClient(ac).Signers(); err == nil {
				signers = append(signers, as...)
			}
		}
	}
	if len(signers) == 0 {
		closeAgent()
		return nil, nil, errors.New("no usable SSH key: set an identity file or load a key into ssh-agent")
	}
	return []ssh.AuthMethod{ssh.PublicKeys(signers...)}, closeAgent, nil
}

// signers keeps each identity file parsed once per version of the file
// (see fileStamp), not once per connection: a fleet's connections all
// use the operator's same key or two.
var signers = struct {
	sync.Mutex
	byPath map[string]parsedSigner
}{byPath: map[string]parsedSigner{}}

type parsedSigner struct {
	stamp string
	s     ssh.Signer
}

func loadSigner(path string) (ssh.Signer, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	stamp := fileStamp(fi)
	signers.Lock()
	p, ok := signers.byPath[path]
	signers.Unlock()
	if ok && p.stamp == stamp {
		return p.s, nil
	}
	s, err := parseSigner(path)
	if err != nil {
		return nil, err
	}
	signers.Lock()
	signers.byPath[path] = parsedSigner{stamp: stamp, s: s}
	signers.Unlock()
	return s, nil
}

func parseSigner(path string) (ssh.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	s, err := ssh.ParsePrivateKey(b)
	var pm *ssh.PassphraseMissingError
	if errors.As(err, &pm) {
		return nil, fmt.Errorf("identity %s is encrypted: load it into ssh-agent instead", path)
	}
	if err != nil {
		return nil, fmt.Errorf("identity %s: %w", path, err)
	}
	return s, nil
}
