package hook

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"time"
)

// maxOutput is how much of a hook's output is kept (the end of it).
const maxOutput = 64 << 10

// Exec runs controller hooks as processes of this machine.
type Exec struct {
	// Environ is openim-deploy's own environment; only Inherited of it
	// reaches a hook.
	Environ []string
}

// Run implements Runner. The command runs in a process group of its own,
// and at the timeout (or when ctx ends) the whole group is killed: a hook
// is typically "sh -c '... | socat ...; sleep ...'", and killing only sh
// would leave its children running, and holding the output pipe open.
func (e Exec) Run(ctx context.Context, c Command) ([]byte, error) {
	if len(c.Argv) == 0 {
		return nil, errors.New("empty command")
	}
	tctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	cmd := exec.CommandContext(tctx, c.Argv[0], c.Argv[1:]...)
	cmd.Env = append(Inherited(e.Environ), c.Env...)
	out := &tail{}
	cmd.Stdout, cmd.Stderr = out, out // one writer: exec writes from one goroutine
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A grandchild that escaped the group and holds the pipe open must
	// not hold the rollout: stop waiting for its output soon after.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.bytes(), nil
	case ctx.Err() != nil:
		return out.bytes(), ctx.Err()
	case tctx.Err() != nil:
		return out.bytes(), fmt.Errorf("%w after %s", ErrTimeout, c.Timeout)
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return out.bytes(), &ExitError{Code: ee.ExitCode()}
	}
	return out.bytes(), err
}

// tail keeps the last maxOutput bytes written to it.
type tail struct{ b []byte }

func (t *tail) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 2*maxOutput {
		t.b = append([]byte(nil), t.b[len(t.b)-maxOutput:]...)
	}
	return len(p), nil
}

func (t *tail) bytes() []byte {
	if len(t.b) > maxOutput {
		return t.b[len(t.b)-maxOutput:]
	}
	return t.b
}
