package phase

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/preflight"
	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/target/targettest"
)

const r1 = "20260101T000000.000Z-0001"

// runningR1 is a host where every demo unit runs release r1.
func runningR1() hostView {
	return hostView{
		current: r1,
		running: map[string]string{
			"demo.target": "", "gate.service": "",
			"rpc@0.service": r1, "rpc@1.service": r1, "api@0.service": r1,
		},
	}
}

// TestReadHosts_OneReadOnlyRoundTripPerHost: ReadHosts sends every host
// exactly one command, marked read-only and with sudo as the host's become
// says, and records from its one answer the facts (for pre-flight), the
// state (for the plan: current, and the release each instance's process
// runs) and the lock's holder, warning about a live one when asked to.
func TestReadHosts_OneReadOnlyRoundTripPerHost(t *testing.T) {
	r, out := demoRun(t, "im-1", "im-2")
	require.NoError(t, Render{}.Run(t.Context(), r))
	r.Hosts[1].Config.Become = true
	free, held := targettest.NewFake("im-1"), targettest.NewFake("im-2")
	answerRead(t, free, runningR1())
	locked := runningR1()
	locked.holder = `{"id":"x1","user":"alice","host":"ctl","pid":42,"command":"apply"}`
	answerRead(t, held, locked)
	r.Hosts[0].Target, r.Hosts[1].Target = free, held

	require.NoError(t, ReadHosts{Facts: true, WarnLocked: true}.Run(t.Context(), r))

	for i, f := range []*targettest.Fake{free, held} {
		calls := f.Calls()
		require.Len(t, calls, 1, "%s: one round trip", f.Name())
		require.True(t, calls[0].Cmd.ReadOnly, "%s: the read is read-only", f.Name())
		require.Equal(t, i == 1, calls[0].Sudo, "%s: sudo as become says", f.Name())
		targettest.NoUnexpected(t, f)

		h := r.Hosts[i]
		require.True(t, h.Usable())
		require.Equal(t, f.Name(), h.Facts.Host)
		require.Equal(t, f.Name(), h.Facts.Hostname, "facts come from the detect part")
		require.Equal(t, "debian", h.Facts.OS.ID)
		require.Equal(t, r1, h.Actual.Current)
		for _, u := range []string{"rpc@0.service", "rpc@1.service", "api@0.service"} {
			require.True(t, h.Actual.Units[u].Active, "%s %s", f.Name(), u)
			require.Equal(t, r1, h.Actual.Units[u].Release, "%s %s: the release its process runs", f.Name(), u)
		}
	}
	require.Nil(t, r.Hosts[0].Holder)
	require.NotNil(t, r.Hosts[1].Holder)
	require.True(t, r.Hosts[1].Holder.Live())
	require.Equal(t, "alice", r.Hosts[1].Holder.User)
	require.Contains(t, out.String(), "[im-2] warning: locked by alice@ctl pid 42")
	require.NotContains(t, out.String(), "[im-1] warning")
}

// TestReadHosts_FailedReadFallsBackToFacts: when the composed read fails
// as a whole, the facts alone are read again, without sudo and read-only,
// so pre-flight can name the cause (sudo wants a password) instead of the
// read's exit status; when pre-flight finds nothing wrong, the read's
// failure is the host's error. Either way only that host fails, nothing
// is planned, and the other host's read stands.
func TestReadHosts_FailedReadFallsBackToFacts(t *testing.T) {
	for _, tc := range []struct {
		name, sudo, want string
	}{
		{"pre-flight names the cause", "password sudo: a password is required", "sudo: sudo -n fails for"},
		{"the read's own failure", "ok", "read the host: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, out := demoRun(t, "im-1", "im-2")
			require.NoError(t, Render{}.Run(t.Context(), r))
			bad := r.Hosts[0]
			bad.Config.User, bad.Config.Become = "deploy", true
			f, good := targettest.NewFake("im-1"), targettest.NewFake("im-2")
			f.On(targettest.Contains("__openim_part0() {"), targettest.Reply{Code: 1, Stderr: "sudo: a password is required"})
			f.OnFunc(targettest.Contains(" openim-deploy-facts /opt/demo"), func(cmd target.Cmd) (target.Result, error) {
				// GatherFacts times this detect with the wall clock, not
				// the run's: no clock to compare.
				return target.Result{Stdout: []byte(detectOutput("im-1", hostView{sudo: tc.sudo, noClock: true}))}, nil
			})
			answerRead(t, good, runningR1())
			bad.Target, r.Hosts[1].Target = f, good

			err := ReadHosts{Facts: true}.Run(t.Context(), r)
			require.ErrorContains(t, err, "no host was changed")

			calls := f.Calls()
			require.Len(t, calls, 2, "the composed read, then the facts alone")
			require.True(t, calls[0].Sudo)
			require.False(t, calls[1].Sudo, "the facts are read again without sudo")
			require.True(t, calls[1].Cmd.ReadOnly)
			targettest.NoUnexpected(t, f)

			o, herr, _ := bad.Result()
			require.Equal(t, OutcomeFailed, o)
			require.ErrorContains(t, herr, strings.TrimPrefix(tc.want, "sudo: "))
			if tc.sudo == "ok" {
				require.NotErrorIs(t, herr, preflight.ErrRefused)
				require.Contains(t, out.String(), "[im-1] error: read the host: ")
			} else {
				require.ErrorIs(t, herr, preflight.ErrRefused)
				require.Contains(t, out.String(), "[im-1] error: refused: "+tc.want)
				require.NotContains(t, out.String(), "[im-1] error: read the host")
			}
			require.True(t, r.Hosts[1].Usable(), "the other host's read stands")
			require.Equal(t, r1, r.Hosts[1].Actual.Current)
		})
	}
}

// TestReadHosts_StatePartFailureFailsOnlyThatHost: the facts came back but
// the state part of the read did not: the host fails with what the state
// part printed, not as a pre-flight refusal.
func TestReadHosts_StatePartFailureFailsOnlyThatHost(t *testing.T) {
	r, out := demoRun(t, "im-1")
	require.NoError(t, Render{}.Run(t.Context(), r))
	f := targettest.NewFake("im-1")
	f.OnFunc(targettest.Contains("__openim_part0() {"), func(cmd target.Cmd) (target.Result, error) {
		return target.Result{Stdout: []byte(detectOutput("im-1", hostView{}) + partRC(0) + partRC(3) + partRC(4)),
			Stderr: []byte("gather: /opt/demo is not a directory")}, nil
	})
	r.Hosts[0].Target = f
	require.Error(t, ReadHosts{Facts: true}.Run(t.Context(), r))
	o, err, _ := r.Hosts[0].Result()
	require.Equal(t, OutcomeFailed, o)
	require.EqualError(t, err, "read state: exit status 3: gather: /opt/demo is not a directory")
	require.Contains(t, out.String(), "[im-1] error: read state: exit status 3")
	require.Len(t, f.Calls(), 1, "no second read when the facts came back")
}

// TestReadHosts_ConnectsEachHostAndReadsItAtOnce: a host that is not
// connected yet is dialled and read in one step, so the next host is
// dialled only once the first is read (with one host at a time) and a
// fleet never holds every idle connection at once; a host that cannot be
// reached is left out as Connect leaves it, and the others go on; CleanUp
// closes what the phase connected. With no host reached, the run stops.
func TestReadHosts_ConnectsEachHostAndReadsItAtOnce(t *testing.T) {
	r, out := demoRun(t, "im-1", "im-2", "im-3")
	require.NoError(t, Render{}.Run(t.Context(), r))
	r.Opts.Parallel = 1
	fakes := map[string]*targettest.Fake{}
	for _, n := range []string{"im-1", "im-3"} {
		fakes[n] = targettest.NewFake(n)
		answerRead(t, fakes[n], runningR1())
	}
	var dialed []string
	r.Dial = func(_ context.Context, h *config.Host, _ *config.Bastion) (target.Target, error) {
		dialed = append(dialed, h.Name)
		if h.Name == "im-3" {
			require.NotEmpty(t, fakes["im-1"].Calls(), "im-1 is read before the next host is dialled")
		}
		f, ok := fakes[h.Name]
		if !ok {
			return nil, fmt.Errorf("dial %s: %w", h.Name, target.ErrUnreachable)
		}
		return f, nil
	}

	require.NoError(t, ReadHosts{Facts: true}.Run(t.Context(), r))
	require.Equal(t, []string{"im-1", "im-2", "im-3"}, dialed)
	o, err, _ := r.Hosts[1].Result()
	require.Equal(t, OutcomeUnreachable, o)
	require.ErrorIs(t, err, target.ErrUnreachable)
	require.Contains(t, out.String(), "[im-2] error: unreachable: dial im-2")
	for _, h := range []*Host{r.Hosts[0], r.Hosts[2]} {
		require.True(t, h.Usable(), h.Config.Name)
		require.NotEmpty(t, h.Actual.Units, "%s: read", h.Config.Name)
	}
	ReadHosts{}.CleanUp(t.Context(), r)
	for n, f := range fakes {
		require.True(t, f.Closed(), "%s: closed by CleanUp", n)
	}

	// A host connected before the phase (by the caller) is read, not
	// dialled again, and not closed by it.
	r2, _ := demoRun(t, "im-1")
	readFleet(t, r2, nil)
	ReadHosts{}.CleanUp(t.Context(), r2)
	require.False(t, r2.Hosts[0].Target.(*targettest.Fake).Closed())

	none, _ := demoRun(t, "im-1", "im-2")
	require.NoError(t, Render{}.Run(t.Context(), none))
	none.Dial = func(_ context.Context, h *config.Host, _ *config.Bastion) (target.Target, error) {
		return nil, fmt.Errorf("dial %s: %w", h.Name, target.ErrUnreachable)
	}
	require.ErrorIs(t, ReadHosts{Facts: true}.Run(t.Context(), none), target.ErrUnreachable)
}
