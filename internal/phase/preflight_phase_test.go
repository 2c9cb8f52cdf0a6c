package phase

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/preflight"
	"github.com/openimsdk/openim-deploy/internal/target/targettest"
)

// readFleet renders r and reads every host from its fake, answering as
// views says (a host not in views runs every demo unit on r1).
func readFleet(t *testing.T, r *Run, views map[string]hostView) []*targettest.Fake {
	t.Helper()
	require.NoError(t, Render{}.Run(t.Context(), r))
	var fakes []*targettest.Fake
	for _, h := range r.Hosts {
		f := targettest.NewFake(h.Config.Name)
		v, ok := views[h.Config.Name]
		if !ok {
			v = runningR1()
		}
		answerRead(t, f, v)
		h.Target = f
		fakes = append(fakes, f)
	}
	require.NoError(t, ReadHosts{Facts: true}.Run(t.Context(), r))
	return fakes
}

// TestPreflight_RefusesAllOrNothingFromTheFactsRead: pre-flight judges the
// facts the host read brought back and asks the hosts nothing more. A host
// that cannot run the playbook (no systemd) is refused, naming the fact,
// and the run stops there with no host changed, though the others passed;
// a fleet-wide warning (two hosts sharing a machine-id) warns and refuses
// neither host, unless the run is strict.
func TestPreflight_RefusesAllOrNothingFromTheFactsRead(t *testing.T) {
	clone := hostView{machineID: "0f1e2d3c4b5a69788796a5b4c3d2e1f0"}
	for _, strict := range []bool{false, true} {
		r, out := demoRun(t, "im-1", "im-2", "im-3")
		r.Opts.Strict = strict
		a, c := runningR1(), runningR1()
		a.machineID, c.machineID = clone.machineID, clone.machineID
		sysv := runningR1()
		sysv.init = "inittab\npid1 init\n"
		fakes := readFleet(t, r, map[string]hostView{"im-1": a, "im-2": sysv, "im-3": c})
		for _, f := range fakes {
			f.Reset()
		}

		err := Preflight{}.Run(t.Context(), r)
		require.ErrorIs(t, err, preflight.ErrRefused)
		require.ErrorContains(t, err, "no host was changed")
		require.ErrorContains(t, err, "im-2: ")
		require.Contains(t, out.String(), "[im-2] error: refused: init: init system is sysvinit")
		require.Contains(t, out.String(), "machine-id "+clone.machineID+" is also the machine-id of im-3")
		for _, f := range fakes {
			require.Empty(t, f.Calls(), "%s: pre-flight asks the host nothing", f.Name())
		}
		o, _, _ := r.Hosts[1].Result()
		require.Equal(t, OutcomeFailed, o)
		for _, i := range []int{0, 2} {
			o, _, _ := r.Hosts[i].Result()
			if strict {
				require.Equal(t, OutcomeFailed, o, "strict: the shared machine-id refuses %s", r.Hosts[i])
				require.Contains(t, out.String(), "["+r.Hosts[i].Config.Name+"] error: refused: machine-id: ")
			} else {
				require.Equal(t, OutcomeOK, o, "a warning refuses nothing")
			}
		}
	}
}
