package phase

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/target/targettest"
	"github.com/openimsdk/openim-deploy/internal/ui"
)

// BenchmarkPlanOpenIM measures the controller's side of `plan` for the
// shipped OpenIM playbook (26 instances and 2 tasks per host) on fleets of
// 50 to 500 fresh hosts: loading the configuration, placing it, building
// every host's desired state and its plan, and printing the plan. The
// network (connect, pre-flight, gather) is not in it: this is what the
// controller adds per host however fast the hosts answer.
func BenchmarkPlanOpenIM(b *testing.B) {
	for _, n := range []int{50, 100, 200, 500, 1000} {
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
			inv, pb := openIMFleet(b, n)
			b.ReportAllocs()
			for b.Loop() {
				cfg, diags := config.Load(config.LoadOptions{InventoryPath: inv, PlaybookPath: pb, Vars: map[string]string{"mongo_password": "x", "redis_password": "x", "minio_secret_key": "x"}})
				if diags.HasErrors() {
					b.Fatal(diags)
				}
				r := &Run{Config: cfg, Out: ui.New(io.Discard, ui.Options{}), Opts: Options{ReleaseID: "20260101T000000Z", Parallel: 2}}
				for _, hp := range cfg.Placement() {
					// A target makes the host take part; the plan reads nothing from it.
					r.Hosts = append(r.Hosts, &Host{Config: hp.Host, Placement: hp, Target: targettest.NewFake(hp.Host.Name)})
				}
				if err := (Render{}).Run(b.Context(), r); err != nil {
					b.Fatal(err)
				}
				if err := (ComputePlan{}).Run(b.Context(), r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// openIMFleet writes an inventory of n hosts in group "app" and the
// binaries and config the OpenIM playbook names (small stand-ins: local
// hashing is memoised per file, so size does not scale with hosts).
func openIMFleet(b *testing.B, n int) (inv, pb string) {
	dir := b.TempDir()
	src, err := os.ReadFile(filepath.Join("..", "..", "playbooks", "openim.hcl"))
	if err != nil {
		b.Fatal(err)
	}
	pb = filepath.Join(dir, "playbooks", "openim.hcl")
	for _, d := range []string{"playbooks/templates", "_output/bin", "_output/config"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	if err := os.WriteFile(pb, src, 0o644); err != nil {
		b.Fatal(err)
	}
	tpls, err := filepath.Glob(filepath.Join("..", "..", "playbooks", "templates", "*.tpl"))
	if err != nil {
		b.Fatal(err)
	}
	for _, t := range tpls {
		text, err := os.ReadFile(t)
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "playbooks", "templates", filepath.Base(t)), text, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for _, name := range []string{"check-free-memory", "check-component", "openim-rpc-auth", "openim-rpc-user",
		"openim-rpc-friend", "openim-rpc-group", "openim-rpc-conversation", "openim-rpc-msg", "openim-rpc-third",
		"openim-push", "openim-msgtransfer", "openim-crontask", "openim-msggateway", "openim-api"} {
		if err := os.WriteFile(filepath.Join(dir, "_output/bin", name), []byte("#!/bin/sh\n# "+name+"\n"), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 20 {
		if err := os.WriteFile(filepath.Join(dir, "_output/config", fmt.Sprintf("openim-%d.yml", i)), []byte("x: 1\n"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	var s strings.Builder
	s.WriteString("defaults {\n  user = \"root\"\n}\n")
	for i := range n {
		fmt.Fprintf(&s, "host \"im-%d\" {\n  address = \"10.%d.%d.%d\"\n  groups = [\"app\"]\n}\n", i, i/65536, i/256%256, i%256)
	}
	// The playbook renders the infra group's addresses into its templates.
	s.WriteString("host \"infra-1\" {\n  address = \"10.255.0.1\"\n  groups = [\"infra\"]\n}\n")
	inv = filepath.Join(dir, "inventory.hcl")
	if err := os.WriteFile(inv, []byte(s.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return inv, pb
}
