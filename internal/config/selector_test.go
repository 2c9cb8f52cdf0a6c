package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSelectors pins hosts lists in package selector's grammar, the one
// --limit speaks too: names, GROUP[N] (negative from the end), slices,
// globs, and exclusion and intersection across the list's elements, in
// inventory order; and the errors validation reports.
func TestSelectors(t *testing.T) {
	inv := &Inventory{Hosts: []*Host{
		{Name: "a", Groups: []string{"app"}},
		{Name: "db", Groups: []string{"infra"}},
		{Name: "b", Groups: []string{"app"}},
		{Name: "c", Groups: []string{"app", "infra"}},
	}}
	tests := []struct {
		sel  []string
		want []string
		err  string
	}{
		{sel: []string{"all"}, want: []string{"a", "db", "b", "c"}},
		{sel: []string{"app"}, want: []string{"a", "b", "c"}},
		{sel: []string{"db"}, want: []string{"db"}},
		{sel: []string{"app[0]"}, want: []string{"a"}},
		{sel: []string{"app[2]"}, want: []string{"c"}},
		{sel: []string{"app[-1]"}, want: []string{"c"}},
		{sel: []string{"infra[1]"}, want: []string{"c"}},
		{sel: []string{"app[1:]"}, want: []string{"b", "c"}},
		{sel: []string{"app[:1]"}, want: []string{"a", "b"}},
		{sel: []string{"app[1:1]"}, want: []string{"b"}},
		{sel: []string{"app[:]"}, want: []string{"a", "b", "c"}},
		{sel: []string{"app[0:9]"}, want: []string{"a", "b", "c"}}, // a range ends at the last host, as in Ansible
		{sel: []string{"all[3]"}, want: []string{"c"}},
		{sel: []string{"d*"}, want: []string{"db"}},
		{sel: []string{"app", "!app[0]"}, want: []string{"b", "c"}},
		{sel: []string{"app", "&infra"}, want: []string{"c"}},
		{sel: []string{"!infra"}, want: []string{"a", "b"}},
		{sel: []string{"app,!c"}, want: []string{"a", "b"}},
		{sel: []string{"app", "!app"}, want: []string{}},
		{sel: []string{"app[3]"}, err: `host pattern "app[3]" matches no host: app has 3 hosts (positions 0 to 2, or -1 for the last)`},
		{sel: []string{"nope"}, err: `host pattern "nope" matches no host: no host or group "nope" is in the inventory`},
		{sel: []string{"x*"}, err: `host pattern "x*" matches no host: no host or group matches "x*"`},
		{sel: []string{"app[]"}, err: `bad host pattern: "app[]": empty subscript: the brackets need a position, as in app[0]`},
		{sel: []string{"app[2:1]"}, err: `bad host pattern: "app[2:1]": range 2:1 runs backwards`},
		{sel: []string{"[1]"}, err: `bad host pattern: "[1]" names no host or group`},
		{sel: []string{"app[1"}, err: `bad host pattern: "app[1": a position is written NAME[N] or NAME[A:B], and ends with ]`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.sel, ","), func(t *testing.T) {
			hosts, err := resolveHosts(inv, tt.sel)
			if tt.err != "" {
				require.EqualError(t, err, tt.err)
				return
			}
			require.NoError(t, err)
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

	// The list is one pattern: exclusion and negative positions place too.
	cfg.Playbook.Services[0].Hosts = []string{"app", "!app[-1]"}
	on = nil
	for _, hp := range cfg.Placement() {
		for _, s := range hp.Services {
			if s.Name == "db" {
				on = append(on, hp.Host.Name)
			}
		}
	}
	require.Equal(t, []string{"a"}, on, "app is a and b; app[-1] is b")
}
