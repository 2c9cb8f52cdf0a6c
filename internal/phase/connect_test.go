package phase

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/target/targettest"
)

// loginFake is a Fake whose transport resolved the login user, as an SSH
// target does from the inventory and ssh_config.
type loginFake struct {
	*targettest.Fake
	user string
}

func (l loginFake) User() string { return l.user }

// TestConnect_UnreachableHostIsLeftOutOthersGoOn: a host that cannot be
// dialled is marked unreachable (a bystander: skipped, with a warning)
// and leaves the run; every other host is connected, through its bastion
// when it names one, with the login user the transport resolved
// recorded; CleanUp closes every connection.
func TestConnect_UnreachableHostIsLeftOutOthersGoOn(t *testing.T) {
	r, out := demoRun(t, "im-1", "im-2", "im-3")
	r.Config.Inventory.Bastions = []*config.Bastion{{Name: "jump", Address: "192.0.2.9"}}
	r.Hosts[2].Config.Via = "jump"
	spare := &Host{Config: &config.Host{Name: "spare-1"}, Bystander: true}
	r.Hosts = append(r.Hosts, spare)

	fakes := map[string]*targettest.Fake{"im-1": targettest.NewFake("im-1"), "im-3": targettest.NewFake("im-3")}
	var mu sync.Mutex
	via := map[string]string{}
	r.Dial = func(_ context.Context, h *config.Host, b *config.Bastion) (target.Target, error) {
		mu.Lock()
		defer mu.Unlock()
		if b != nil {
			via[h.Name] = b.Name
		}
		f, ok := fakes[h.Name]
		if !ok {
			return nil, fmt.Errorf("dial %s: %w", h.Name, target.ErrUnreachable)
		}
		if h.Name == "im-3" {
			return loginFake{f, "deploy"}, nil
		}
		return f, nil
	}

	require.NoError(t, Connect{}.Run(t.Context(), r))

	require.Equal(t, map[string]string{"im-3": "jump"}, via, "only im-3 goes through its bastion")
	var usable []string
	for _, h := range r.Usable() {
		usable = append(usable, h.Config.Name)
	}
	require.Equal(t, []string{"im-1", "im-3"}, usable)
	o, err, _ := r.Hosts[1].Result()
	require.Equal(t, OutcomeUnreachable, o)
	require.ErrorIs(t, err, target.ErrUnreachable)
	require.Nil(t, r.Hosts[1].Target)
	require.Contains(t, out.String(), "[im-2] error: unreachable: dial im-2")
	o, _, _ = spare.Result()
	require.Equal(t, OutcomeSkipped, o, "a bystander that cannot be reached is skipped, not failed")
	require.Contains(t, out.String(), "[spare-1] warning: nothing is placed here; not checked for leftovers: unreachable")
	require.Equal(t, "root", r.Hosts[0].Config.User)
	require.Equal(t, "deploy", r.Hosts[2].Config.User, "the login user the transport resolved")

	Connect{}.CleanUp(t.Context(), r)
	for _, f := range fakes {
		require.True(t, f.Closed(), "%s: closed by CleanUp", f.Name())
		require.Empty(t, f.Calls(), "%s: connecting runs nothing on the host", f.Name())
	}
}

// TestConnect_NoHostReachable: when not one host answers, the run stops
// with an error that says so.
func TestConnect_NoHostReachable(t *testing.T) {
	r, _ := demoRun(t, "im-1", "im-2")
	r.Dial = func(context.Context, *config.Host, *config.Bastion) (target.Target, error) {
		return nil, errors.New("connection refused")
	}
	err := Connect{}.Run(t.Context(), r)
	require.ErrorIs(t, err, target.ErrUnreachable)
	require.ErrorContains(t, err, "no host could be reached")
	require.Empty(t, r.Usable())
}
