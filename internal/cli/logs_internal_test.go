package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/phase"
	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/target/targettest"
	"github.com/openimsdk/openim-deploy/internal/ui"
)

// syncBuffer is a bytes.Buffer safe for the printer's writers that says
// on wrote when something was written, so a test can wait without sleeping.
type syncBuffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	wrote chan struct{} // capacity 1: "written since you last looked"
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case s.wrote <- struct{}{}:
	default:
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func entryJSON(us int64, unit, msg string) string {
	return fmt.Sprintf(`{"__REALTIME_TIMESTAMP":"%d","__CURSOR":"c%d","_SYSTEMD_UNIT":"%s","MESSAGE":"%s"}`+"\n", us, us, unit, msg)
}

// TestFollowLogs_SurvivesAHostDropping pins logs -f's contract: it resumes
// each host after its cursor, reports a host whose stream breaks, keeps
// printing the others, and ends when the context does.
func TestFollowLogs_SurvivesAHostDropping(t *testing.T) {
	svc := &config.Service{Unit: config.Unit{Name: "api", Hosts: []string{"all"}}, Instances: []config.Instance{{Name: "0"}}}
	cfg := &config.Config{
		Inventory: &config.Inventory{Hosts: []*config.Host{{Name: "im-1"}, {Name: "im-2"}}},
		Playbook:  &config.Playbook{App: config.App{Name: "openim", Root: "/opt/openim"}, Services: []*config.Service{svc}},
	}
	out := syncBuffer{wrote: make(chan struct{}, 1)}
	r := &phase.Run{Config: cfg, Out: ui.New(&out, ui.Options{})}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	good := targettest.NewFake("im-1")
	good.On(targettest.Equal("journalctl --no-pager -o json -u api@0.service -f --after-cursor c10"),
		targettest.StreamFunc(func(ctx context.Context, _ target.Cmd, stdout, _ io.Writer) error {
			_, _ = io.WriteString(stdout, entryJSON(20, "api@0.service", "still here"))
			<-ctx.Done()
			return ctx.Err()
		}))
	bad := targettest.NewFake("im-2")
	bad.On(targettest.HasPrefix("journalctl --no-pager -o json -u api@0.service -f -n 0"),
		targettest.Reply{Err: fmt.Errorf("connection lost: %w", target.ErrUnknownOutcome)})
	for i, f := range []*targettest.Fake{good, bad} {
		r.Hosts = append(r.Hosts, &phase.Host{Config: cfg.Inventory.Hosts[i], Placement: cfg.Placement()[i], Target: f})
	}
	all, err := phase.NewUnitFilter(cfg.Playbook, nil)
	require.NoError(t, err)

	done := make(chan struct{})
	go func() {
		followLogs(ctx, r, r.Hosts, []string{"c10", ""}, all, nil)
		close(done)
	}()
	// Wait for both outcomes: the good host's line and the bad host's warning.
	for !strings.Contains(out.String(), "still here") || !strings.Contains(out.String(), "stopped following") {
		select {
		case <-done:
			t.Fatalf("followLogs returned before cancel:\n%s", out.String())
		case <-out.wrote:
		}
	}
	cancel()
	<-done
	require.Contains(t, out.String(), "im-1 api@0: still here")
	require.Contains(t, out.String(), "[im-2] warning: stopped following:")
	require.Contains(t, out.String(), "the other hosts go on")
	require.Empty(t, good.Unexpected())
	require.Empty(t, bad.Unexpected())
	o, herr, _ := r.Hosts[1].Result()
	require.Equal(t, phase.OutcomeFailed, o)
	require.True(t, errors.Is(herr, target.ErrUnknownOutcome))
	require.Error(t, logsResult(r))
}
