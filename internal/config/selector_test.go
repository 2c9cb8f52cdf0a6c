package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSelectors pins the selector syntax, shared by hosts lists, hosts()
// and --limit: names, GROUP[N] and Go-style slices, in inventory order.
func TestSelectors(t *testing.T) {
	inv := &Inventory{Hosts: []*Host{
		{Name: "a", Groups: []string{"app"}},
		{Name: "db", Groups: []string{"infra"}},
		{Name: "b", Groups: []string{"app"}},
		{Name: "c", Groups: []string{"app", "infra"}},
	}}
	tests := []struct {
		sel  string
		want []string
		err  string
	}{
		{sel: "all", want: []string{"a", "db", "b", "c"}},
		{sel: "app", want: []string{"a", "b", "c"}},
		{sel: "db", want: []string{"db"}},
		{sel: "app[0]", want: []string{"a"}},
		{sel: "app[2]", want: []string{"c"}},
		{sel: "infra[1]", want: []string{"c"}},
		{sel: "app[1:]", want: []string{"b", "c"}},
		{sel: "app[:1]", want: []string{"a", "b"}},
		{sel: "app[1:1]", want: []string{"b"}},
		{sel: "app[:]", want: []string{"a", "b", "c"}},
		{sel: "all[3]", want: []string{"c"}},
		{sel: "app[3]", err: "app[3]: app has 3 hosts (positions 0 to 2)"},
		{sel: "app[0:3]", err: "app[0:3]: app has 3 hosts, so a slice may end at 2 at most"},
		{sel: "nope", err: `no host or group "nope" is in the inventory`},
		{sel: "app[-1]", err: `"app[-1]": "-1" is not a position (a whole number from 0)`},
		{sel: "app[]", err: `"app[]": the brackets need a position, as in app[0]`},
		{sel: "app[2:1]", err: `"app[2:1]": the slice ends before it starts`},
		{sel: "[1]", err: `"[1]": a position is written GROUP[N] or GROUP[A:B]`},
		{sel: "app[1", err: `"app[1": a position is written GROUP[N] or GROUP[A:B]`},
	}
	for _, tt := range tests {
		t.Run(tt.sel, func(t *testing.T) {
			sel, err := ParseSelector(tt.sel)
			var hosts []*Host
			if err == nil {
				again, perr := ParseSelector(sel.String())
				require.NoError(t, perr)
				require.Equal(t, sel, again, "String writes a selector that parses back to itself")
				hosts, err = sel.Resolve(inv)
			}
			if tt.err != "" {
				require.EqualError(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			if tt.want == nil {
				require.Empty(t, hosts)
				return
			}
			require.Equal(t, tt.want, hostNames(hosts))
		})
	}
}

// TestSelectHosts_Union pins that several selectors pick each host once,
// in inventory order, and that a hand-built Config places by position too.
func TestSelectHosts_Union(t *testing.T) {
	cfg := handBuilt()
	require.Equal(t, []string{"a", "b", "c"}, hostNames(cfg.SelectHosts([]string{"db", "app[1]", "app[0:1]", "app"})))
	cfg.Playbook.Services[0].Hosts = []string{"app[1]"}
	var on []string
	for _, hp := range cfg.Placement() {
		for _, s := range hp.Services {
			if s.Name == "db" {
				on = append(on, hp.Host.Name)
			}
		}
	}
	require.Equal(t, []string{"b"}, on)
}
