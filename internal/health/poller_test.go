package health

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/openimsdk/openim-deploy/internal/systemd"
	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/target/targettest"
)

// TestPoller pins that twenty gates polling side by side share a few
// "systemctl show" calls instead of one SSH session each, and still each
// get their own unit's state.
func TestPoller(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := targettest.NewFake("im-1")
		var mu sync.Mutex
		inFlight, maxInFlight := 0, 0
		f.OnFunc(targettest.HasPrefix("systemctl show -p "), func(cmd target.Cmd) (target.Result, error) {
			mu.Lock()
			inFlight++
			maxInFlight = max(maxInFlight, inFlight)
			mu.Unlock()
			var out strings.Builder
			for _, u := range cmd.Args[5:] { // systemctl show -p PROPS -- units...
				pid := strings.TrimSuffix(strings.TrimPrefix(u, "s@"), ".service")
				out.WriteString("Id=" + u + "\nLoadState=loaded\nActiveState=active\nMainPID=" + pid + "\n\n")
			}
			mu.Lock()
			inFlight--
			mu.Unlock()
			return target.Result{Stdout: []byte(out.String())}, nil
		})
		p := NewPoller(f)
		var wg sync.WaitGroup
		errs := make([]error, 20)
		for i := range 20 {
			wg.Go(func() {
				unit := "s@" + strconv.Itoa(100+i) + ".service"
				state := p.State(unit)
				errs[i] = Wait(t.Context(), SystemClock{}, func(ctx context.Context) (systemd.UnitState, error) {
					st, err := state(ctx)
					if err == nil && st.ID != unit {
						t.Errorf("gate for %s got state of %s", unit, st.ID)
					}
					return st, err
				}, nil, Policy{})
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		polls := len(f.Commands())
		// 20 gates x 6 polls (0 s to 5 s) = 120 requests. With an instant
		// fake some batches hold one request; over SSH they fill up more.
		if requests := 20 * int(DefaultStable/time.Second+1); maxInFlight != 1 || polls > requests/2 {
			t.Errorf("%d show calls for %d requests, at most %d at once; want one at a time, well under one per request",
				polls, requests, maxInFlight)
		}
	})
}
