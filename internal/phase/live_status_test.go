package phase

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/clock"
	"github.com/openimsdk/openim-deploy/internal/clock/clocktest"
	"github.com/openimsdk/openim-deploy/internal/plan"
	"github.com/openimsdk/openim-deploy/internal/ui"
)

// clearLine is what the printer writes to erase its status line.
const clearLine = "\r\x1b[K"

// requireNoInterleaving checks that every normal line of a terminal's
// output was written on a line of its own: whatever status the line held
// was erased before the text began.
func requireNoInterleaving(t *testing.T, out, status string) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		text := line
		if i := strings.LastIndex(line, clearLine); i >= 0 {
			text = line[i+len(clearLine):]
		}
		require.NotContains(t, text, status, "a status line was not erased before %q", text)
	}
}

// On a terminal, the health gates of a rollout show on the status line
// while they are waited on, and every "healthy" line is printed on a line
// of its own; the line is gone at the end.
func TestStartUnits_GatesShowOnTheStatusLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := fakeHost("h1"), fakeHost("h2")
		r, _ := newTestRun(t, 2, false, a, b)
		var out bytes.Buffer
		r.Out = ui.New(&out, ui.Options{Terminal: true, Width: 200, Clock: clock.System{}})
		require.NoError(t, StartUnits{}.Run(t.Context(), r))
		got := out.String()
		require.Contains(t, got, "\rwaiting for health: rpc@0 on [h1] (")
		require.Contains(t, got, "\rwaiting for health: api@0 on [h")
		require.Contains(t, got, "healthy rpc@0.service\n")
		requireNoInterleaving(t, got, "waiting for health")
		require.True(t, strings.HasSuffix(got, "\n"), "the status line is erased when the gates are done: %q", got[max(0, len(got)-80):])
	})
}

// Off a terminal the same run prints no status at all.
func TestStartUnits_NoStatusLineOffTerminal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, out := newTestRun(t, 2, false, fakeHost("h1"), fakeHost("h2"))
		require.NoError(t, StartUnits{}.Run(t.Context(), r))
		require.NotContains(t, out.String(), "\r")
		require.NotContains(t, out.String(), "waiting for health")
	})
}

// An upload counts the bytes read from its source: a file and generated
// content both show on the transfer's status line.
func TestUpload_CountsBytesForTheStatusLine(t *testing.T) {
	var out bytes.Buffer
	clk := clocktest.NewManual(time.Date(2026, 12, 1, 19, 30, 0, 0, time.UTC))
	p := ui.New(&out, ui.Options{Terminal: true, Width: 200, Clock: clk})
	f := fakeHost("h1")
	require.NoError(t, f.MkdirAll("/r/bin", 0o755))
	require.NoError(t, f.MkdirAll("/r/env", 0o755))
	tr := p.Transfer("uploading", 3<<20, 1)
	<-clk.Parked
	local := filepath.Join(t.TempDir(), "bin")
	require.NoError(t, os.WriteFile(local, make([]byte, 2<<20), 0o644))
	require.NoError(t, upload(t.Context(), f, plan.Artifact{Rel: "bin/x", Local: local, Mode: 0o755}, "/r/bin/x", tr))
	require.NoError(t, upload(t.Context(), f, plan.Artifact{Rel: "env/x", Content: make([]byte, 1<<20), Mode: 0o600}, "/r/env/x", tr))
	tr.HostDone()
	clk.Step(time.Second)
	require.Equal(t, "\ruploading: 3.0/3.0 MiB, 3.0 MiB/s, 1/1 hosts done\x1b[K", out.String())
	tr.Done()
	require.True(t, strings.HasSuffix(out.String(), clearLine))
	require.Len(t, f.Files()["/r/bin/x"].Data, 2<<20)
	require.Len(t, f.Files()["/r/env/x"].Data, 1<<20)
}
