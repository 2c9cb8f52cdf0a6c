package phase

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/clock"
	"github.com/openimsdk/openim-deploy/internal/ui"
)

// recordingPhase records Run and CleanUp calls into a shared log.
type recordingPhase struct {
	name string
	log  *[]string
	err  error
}

func (p recordingPhase) Title() string { return p.name }
func (p recordingPhase) Run(context.Context, *Run) error {
	*p.log = append(*p.log, "run "+p.name)
	return p.err
}
func (p recordingPhase) CleanUp(ctx context.Context, _ *Run) {
	state := "live"
	if ctx.Err() != nil {
		state = "cancelled"
	}
	*p.log = append(*p.log, "cleanup "+p.name+" "+state)
}

// TestRunner_CleansUpInReverseEvenWhenCancelled: a failed phase stops the
// run; every phase that ran is cleaned up, last first, with a context that
// is not cancelled even when the run's was (Ctrl-C still releases locks);
// phases after the failure neither run nor clean up.
func TestRunner_CleansUpInReverseEvenWhenCancelled(t *testing.T) {
	var log []string
	ctx, cancel := context.WithCancel(t.Context())
	boom := errors.New("boom")
	cancelling := recordingPhase{name: "b", log: &log, err: boom}
	phases := []Phase{
		recordingPhase{name: "a", log: &log},
		phaseFunc{cancelling, cancel},
		recordingPhase{name: "c", log: &log},
	}
	r := &Run{Out: ui.Discard(), Clock: clock.System{}}
	err := Runner{Phases: phases}.Execute(ctx, r)
	require.ErrorIs(t, err, boom)
	require.Equal(t, []string{"run a", "run b", "cleanup b live", "cleanup a live"}, log)
}

// phaseFunc runs p, then calls after (here: cancels the run's context).
type phaseFunc struct {
	recordingPhase
	after func()
}

func (p phaseFunc) Run(ctx context.Context, r *Run) error {
	err := p.recordingPhase.Run(ctx, r)
	p.after()
	return err
}
