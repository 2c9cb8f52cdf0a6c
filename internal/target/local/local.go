// Package local implements target.Target on this machine with os/exec and
// os: for `--local` runs and as the reference implementation the
// conformance suite holds the SSH transport to.
package local

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/openimsdk/openim-deploy/internal/target"
)

// Target runs commands and writes files on this machine.
type Target struct {
	name string
	root string
	euid int
}

var _ target.Target = (*Target)(nil)

// New returns a Target named name. When root is not empty, file paths are
// joined under root (a test sandbox: "/etc/x" becomes root+"/etc/x") and
// commands run with root as their working directory; command arguments are
// never rewritten.
func New(name, root string) *Target {
	if name == "" {
		name = "localhost"
	}
	return &Target{name: name, root: root, euid: os.Geteuid()}
}

// String is "name (local)".
func (t *Target) String() string { return t.name + " (local)" }

// Name is the inventory name.
func (t *Target) Name() string { return t.name }

// Close does nothing.
func (t *Target) Close() error { return nil }

func (t *Target) path(p string) string {
	if t.root == "" {
		return p
	}
	return filepath.Join(t.root, filepath.Clean("/"+p))
}

// Run runs cmd with os/exec. See target.Target.
func (t *Target) Run(ctx context.Context, cmd target.Cmd) (target.Result, error) {
	if len(cmd.Args) == 0 {
		return target.Result{}, errors.New("run: empty command")
	}
	// The same script framing as over SSH (target.WrapScript), so the
	// conformance suite holds both to one behaviour and a large script is
	// not capped by the kernel's 128 KiB limit on one argument.
	argv, stdin, _ := target.WrapScript(cmd)
	sudo := cmd.Sudo && t.euid != 0
	if sudo {
		argv = append([]string{"sudo", "-n", "--"}, argv...)
	}
	c := exec.Command(argv[0], argv[1:]...)
	c.Dir = t.root
	c.Env = append(os.Environ(), cmd.Env...)
	c.Stdin = stdin
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	// Own process group, so cancelling kills the whole tree ("sh -c 'sleep
	// 60'" included) and Wait is not held up by a grandchild's open pipe.
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.Start(); err != nil {
		return target.Result{}, &target.ExitError{Host: t.name, Cmd: cmd.String(), Code: 127, Stderr: err.Error()}
	}
	waited := make(chan error, 1)
	go func() { waited <- c.Wait() }()
	var err error
	select {
	case err = <-waited:
	case <-ctx.Done():
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		select {
		case <-waited:
		case <-time.After(5 * time.Second): // a stuck pipe reader; do not hang
		}
		return target.Result{}, fmt.Errorf("run %s on %s: %w", cmd, t, ctx.Err())
	}
	res := target.Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return res, nil
	case errors.As(err, &ee):
		code := ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
		xe := &target.ExitError{Host: t.name, Cmd: cmd.String(), Code: code, Stderr: target.TailString(res.Stderr)}
		if sudo && strings.Contains(xe.Stderr, "a password is required") {
			return res, fmt.Errorf("run %s on %s: %w: %w", cmd, t, target.ErrSudoPassword, xe)
		}
		return res, xe
	default:
		return res, fmt.Errorf("run %s on %s: %w", cmd, t, err)
	}
}

// Stream runs cmd with os/exec, its output going straight to stdout and
// stderr. Ending ctx kills the command's process group. See target.Target.
func (t *Target) Stream(ctx context.Context, cmd target.Cmd, stdout, stderr io.Writer) error {
	if len(cmd.Args) == 0 {
		return errors.New("stream: empty command")
	}
	if cmd.Stdin != nil {
		return target.ErrStreamStdin
	}
	argv := cmd.Args
	sudo := cmd.Sudo && t.euid != 0
	if sudo {
		argv = append([]string{"sudo", "-n", "--"}, argv...)
	}
	c := exec.Command(argv[0], argv[1:]...)
	c.Dir = t.root
	c.Env = append(os.Environ(), cmd.Env...)
	var tail bytes.Buffer
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	c.Stdout, c.Stderr = stdout, &tailWriter{w: stderr, tail: &tail}
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.Start(); err != nil {
		return &target.ExitError{Host: t.name, Cmd: cmd.String(), Code: 127, Stderr: err.Error()}
	}
	waited := make(chan error, 1)
	go func() { waited <- c.Wait() }()
	var err error
	select {
	case err = <-waited:
	case <-ctx.Done():
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		select {
		case <-waited:
		case <-time.After(5 * time.Second):
		}
		return fmt.Errorf("stream %s on %s: %w", cmd, t, ctx.Err())
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee):
		code := ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
		return &target.ExitError{Host: t.name, Cmd: cmd.String(), Code: code, Stderr: target.TailString(tail.Bytes())}
	default:
		return fmt.Errorf("stream %s on %s: %w", cmd, t, err)
	}
}

// tailWriter passes stderr through and keeps a copy for the ExitError.
type tailWriter struct {
	w    io.Writer
	tail *bytes.Buffer
}

func (tw *tailWriter) Write(p []byte) (int, error) {
	if tw.tail.Len() > 8192 {
		rest := append([]byte(nil), tw.tail.Bytes()[tw.tail.Len()-4096:]...)
		tw.tail.Reset()
		tw.tail.Write(rest)
	}
	tw.tail.Write(p)
	return tw.w.Write(p)
}

// WriteFile replaces p atomically: temp file in the same directory, chmod,
// write, fsync, rename, fsync of the directory. See target.Target.
func (t *Target) WriteFile(ctx context.Context, p string, r io.Reader, mode fs.FileMode) error {
	dst := t.path(p)
	dir, base := filepath.Split(dst)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	tmp := filepath.Join(dir, "."+base+".openim-deploy-"+hex.EncodeToString(b))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode.Perm())
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(mode.Perm()); err != nil { // not subject to umask
		return fmt.Errorf("write %s: %w", p, err)
	}
	if _, err := io.Copy(f, ctxReader{ctx, r}); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// ReadFile reads p. See target.Target.
func (t *Target) ReadFile(ctx context.Context, p string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(t.path(p))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	return b, nil
}

// Stat lstats p. See target.Target.
func (t *Target) Stat(ctx context.Context, p string) (fs.FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fi, err := os.Lstat(t.path(p))
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", p, err)
	}
	return fi, nil
}

// DialContext dials from this machine.
func (t *Target) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
