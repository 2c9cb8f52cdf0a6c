package lock

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os/exec"
	"sync"

	"github.com/openimsdk/openim-deploy/internal/target"
)

// shTarget is a minimal target.Target that runs commands with os/exec on
// this machine, so the lock scripts run in a real /bin/sh against a temp
// directory. hook, if set, runs before each command with the command's
// script argument, and fail can inject a transport error.
type shTarget struct {
	mu   sync.Mutex
	hook func(script string)
	fail func(script string) error
	runs []target.Cmd
}

var _ target.Target = (*shTarget)(nil)

func (s *shTarget) Stream(context.Context, target.Cmd, io.Writer, io.Writer) error {
	return errors.New("shTarget: stream not supported")
}

func (s *shTarget) String() string { return "local (sh)" }
func (s *shTarget) Name() string   { return "local" }
func (s *shTarget) Close() error   { return nil }

func (s *shTarget) Run(ctx context.Context, cmd target.Cmd) (target.Result, error) {
	s.mu.Lock()
	s.runs = append(s.runs, cmd)
	hook, fail := s.hook, s.fail
	s.mu.Unlock()
	scr := ""
	if len(cmd.Args) > 2 {
		scr = cmd.Args[2]
	}
	if hook != nil {
		hook(scr)
	}
	if fail != nil {
		if err := fail(scr); err != nil {
			return target.Result{}, err
		}
	}
	c := exec.CommandContext(ctx, cmd.Args[0], cmd.Args[1:]...)
	c.Stdin = cmd.Stdin
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	res := target.Result{Stdout: out.Bytes(), Stderr: errb.Bytes()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return res, &target.ExitError{Host: "local", Cmd: "sh -c ...", Code: ee.ExitCode(), Stderr: errb.String()}
	}
	return res, err
}

func (s *shTarget) cmds() []target.Cmd {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]target.Cmd(nil), s.runs...)
}

func (s *shTarget) WriteFile(context.Context, string, io.Reader, fs.FileMode) error {
	return fmt.Errorf("shTarget: WriteFile not supported")
}

func (s *shTarget) ReadFile(context.Context, string) ([]byte, error) {
	return nil, fmt.Errorf("shTarget: ReadFile not supported")
}

func (s *shTarget) Stat(context.Context, string) (fs.FileInfo, error) {
	return nil, fmt.Errorf("shTarget: Stat not supported")
}

func (s *shTarget) DialContext(context.Context, string, string) (net.Conn, error) {
	return nil, fmt.Errorf("shTarget: DialContext not supported")
}
