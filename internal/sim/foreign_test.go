package sim

import (
	"strings"
	"testing"

	"github.com/openimsdk/openim-deploy/internal/cli"
)

// TestForeignUnitFileRefusesOnlyItsHost: on a converged fleet, a unit file
// at the tool's path that the app did not write (no header, or another
// app's) makes plan and apply refuse that host, naming the file and its
// first line, with exit 6; the file is left as it was, and the other hosts
// are planned and handled as usual.
func TestForeignUnitFileRefusesOnlyItsHost(t *testing.T) {
	for _, tc := range []struct{ name, path, content, says string }{
		{"no header", "", "[Unit]\nDescription=theirs\n", `exists and was not written by openim-deploy for app openim (first line: "[Unit]")`},
		{"vendor unit shadowed", "/lib/systemd/system/openim-api@.service", "[Unit]\nDescription=packaged\n",
			"would shadow /lib/systemd/system/openim-api@.service, a unit openim-deploy did not write for app openim"},
		{"another app", "", "# Managed by openim-deploy (app=chat): changes here are overwritten by the next apply.\n[Unit]\n",
			`exists and was not written by openim-deploy for app openim (it belongs to app chat; first line: "# Managed by openim-deploy (app=chat): changes here`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := NewOpenIMFleet(t, 3)
			victim := f.Hosts[1]
			p := tc.path
			if p == "" {
				p = "/etc/systemd/system/openim-api@.service"
			} else {
				delete(victim.State.Files, "/etc/systemd/system/openim-api@.service") // a cold host
			}
			victim.State.Files[p] = []byte(tc.content)
			want := "/etc/systemd/system/openim-api@.service " + tc.says

			code, out := run(t.Context(), f, f.Args("plan", "--detailed-exitcode", "--no-fold")...)
			if code != cli.ExitPreflight {
				t.Fatalf("plan: exit %d, want %d:\n%s", code, cli.ExitPreflight, out)
			}
			if !strings.Contains(out, "["+victim.Name+"] error: refused: "+want) {
				t.Fatalf("plan should refuse %s naming the file and its first line:\n%s", victim.Name, out)
			}

			code, out = run(t.Context(), f, f.Args("apply", "--no-fold")...)
			if code != cli.ExitPreflight {
				t.Fatalf("apply: exit %d, want %d:\n%s", code, cli.ExitPreflight, out)
			}
			if !strings.Contains(out, want) {
				t.Fatalf("apply should name the file:\n%s", out)
			}
			if got := string(victim.State.Files[p]); got != tc.content {
				t.Fatalf("the foreign file changed:\n%s", got)
			}
			for _, h := range f.Hosts {
				if h == victim {
					continue
				}
				if !strings.Contains(out, h.Name) || strings.Contains(out, "["+h.Name+"] error") {
					t.Fatalf("%s should be handled as usual:\n%s", h.Name, out)
				}
			}
			if u := f.Unknown(); len(u) > 0 {
				t.Fatalf("commands the simulation does not answer: %v", u)
			}
		})
	}
}
