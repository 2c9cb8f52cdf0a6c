package hook

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/shellcheck"
)

// TestScriptsPassShellcheck checks the host hook's framing script.
func TestScriptsPassShellcheck(t *testing.T) {
	shellcheck.Check(t, "scripts/*.sh", nil)
}

// TestVars_Env pins the variable names operators' scripts depend on.
func TestVars_Env(t *testing.T) {
	v := Vars{Hosts: []string{"lab-1", "lab-2"}, Addresses: []string{"10.0.0.1", "10.0.0.2"},
		Instances: []string{"lab-1/api@0.service", "lab-2/api@0.service"}, Service: "api", Release: "r2", Batch: "2/6", Command: "restart"}
	require.Equal(t, []string{
		"OPENIM_DEPLOY_HOSTS=lab-1 lab-2",
		"OPENIM_DEPLOY_ADDRESSES=10.0.0.1 10.0.0.2",
		"OPENIM_DEPLOY_INSTANCES=lab-1/api@0.service lab-2/api@0.service",
		"OPENIM_DEPLOY_SERVICE=api",
		"OPENIM_DEPLOY_RELEASE=r2",
		"OPENIM_DEPLOY_BATCH=2/6",
		"OPENIM_DEPLOY_COMMAND=restart",
	}, v.Env())
}

// TestInherited: only the few variables a program needs to run come from
// openim-deploy's environment; a token in the operator's shell does not.
func TestInherited(t *testing.T) {
	got := Inherited([]string{"AWS_SECRET_ACCESS_KEY=x", "HOME=/root", "PATH=/bin", "OPENIM_DEPLOY_PASSWORD=y", "LANG=C.UTF-8", "junk"})
	require.Equal(t, []string{"HOME=/root", "PATH=/bin", "LANG=C.UTF-8"}, got)
	require.Contains(t, Inherited(nil)[0], "PATH=/usr/local/bin:")
}

// TestExec runs real processes (the one test here that does): the exit
// status, the environment a hook sees, and a timeout that kills the
// hook's whole process group, a background child included.
func TestExec(t *testing.T) {
	e := Exec{Environ: []string{"PATH=" + os.Getenv("PATH"), "SECRET_TOKEN=hunter2"}}
	ctx := t.Context()

	out, err := e.Run(ctx, Command{Argv: []string{"sh", "-c", `echo "hosts=$OPENIM_DEPLOY_HOSTS"; env; exit 3`},
		Env: Vars{Hosts: []string{"a", "b"}}.Env(), Timeout: time.Minute})
	var ee *ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, 3, ee.Code)
	require.Contains(t, string(out), "hosts=a b\n")
	require.NotContains(t, string(out), "hunter2", "only the inherited variables reach a hook")

	_, err = e.Run(ctx, Command{Argv: []string{filepath.Join(t.TempDir(), "missing")}, Timeout: time.Minute})
	require.Error(t, err)

	pidFile := filepath.Join(t.TempDir(), "pid")
	start := time.Now()
	_, err = e.Run(ctx, Command{Argv: []string{"sh", "-c", `sleep 60 & echo $! >"$1"; wait`, "sh", pidFile},
		Timeout: 300 * time.Millisecond})
	require.ErrorIs(t, err, ErrTimeout)
	require.Less(t, time.Since(start), 30*time.Second, "the timeout ended the hook")
	b, err := os.ReadFile(pidFile)
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err)
	require.True(t, eventuallyGone(pid), "the hook's background child was killed with its group")
}

// eventuallyGone reports whether process pid is gone or a zombie within
// a few seconds (SIGKILL is delivered, not awaited, by kill).
func eventuallyGone(pid int) bool {
	for range 500 {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return true
		}
		if f := strings.Fields(string(b)); len(f) > 2 && f[2] == "Z" {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// TestHostScript runs the host hook's framing in a real sh: variables are
// exported (blanks and quotes intact), the argv runs as given, and
// malformed arguments are refused with HostBadArgs.
func TestHostScript(t *testing.T) {
	cmd := HostCmd([]string{"sh", "-c", `printf '%s|%s|%s\n' "$A" "$B" "$1"`, "sh", "arg one"},
		[]string{"A=1", `B=x 'y' "z"`}, 5*time.Second, []string{"secret"})
	require.Equal(t, []string{"secret"}, cmd.Redact)
	out, err := exec.CommandContext(t.Context(), cmd.Args[0], cmd.Args[1:]...).CombinedOutput()
	require.NoError(t, err, string(out))
	require.Equal(t, "1|x 'y' \"z\"|arg one\n", string(out))

	for _, args := range [][]string{{"5", "x"}, {"5", "1", "NOEQUALS", "true"}, {"5", "0"}} {
		c := exec.CommandContext(context.Background(), "sh", append([]string{"-c", hostScript, "hook"}, args...)...)
		err := c.Run()
		var ee *exec.ExitError
		require.True(t, errors.As(err, &ee), "%v: %v", args, err)
		require.Equal(t, HostBadArgs, ee.ExitCode(), "%v", args)
	}

	c := HostCmd([]string{"sleep", "10"}, nil, time.Second, nil)
	err = exec.CommandContext(t.Context(), c.Args[0], c.Args[1:]...).Run()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, HostTimedOut, ee.ExitCode(), "timeout bounds the hook on the host")
}
