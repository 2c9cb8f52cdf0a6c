package cli

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInterruptsEveryCtrlCIsHandled: for a command that stops softly, the
// first Ctrl-C asks a stop at a settled point, the second cancels the run,
// and every further one exits with 130, so a run that outlives its
// cancellation never needs SIGKILL.
func TestInterruptsEveryCtrlCIsHandled(t *testing.T) {
	i := newInterrupts()
	i.Soften()
	sigs := make(chan os.Signal)
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	exited := make(chan int, 1)
	var w bytes.Buffer
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		i.watch(done, sigs, cancel, &w, func(code int) { exited <- code })
	}()

	sigs <- os.Interrupt // blocks until watch has taken it
	<-i.First()
	require.NoError(t, ctx.Err(), "the first Ctrl-C only asks for a settled stop")

	sigs <- os.Interrupt
	<-ctx.Done()

	sigs <- os.Interrupt
	require.Equal(t, ExitInterrupted, <-exited)
	<-finished
	require.Contains(t, w.String(), "exiting now")
}

// TestInterruptsHardStopCommands: a command without a soft stop is
// cancelled by the first Ctrl-C, and the second exits.
func TestInterruptsHardStopCommands(t *testing.T) {
	i := newInterrupts()
	sigs := make(chan os.Signal)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	exited := make(chan int, 1)
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	go i.watch(done, sigs, cancel, &bytes.Buffer{}, func(code int) { exited <- code })
	sigs <- os.Interrupt
	<-ctx.Done()
	sigs <- os.Interrupt
	require.Equal(t, ExitInterrupted, <-exited)
}
