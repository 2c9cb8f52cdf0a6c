package ui

import (
	"fmt"
	"io"
	"testing"
)

// BenchmarkFold prints the per-host lines of one phase of a large fleet
// through the folding printer: every host reporting the same lines
// (folded to one each), and every host reporting a line of its own (none
// fold: the worst case for the pending list).
func BenchmarkFold(b *testing.B) {
	for _, n := range []int{500, 2000} {
		hosts := make([]string, n)
		for i := range hosts {
			hosts[i] = fmt.Sprintf("im-%d", i+1)
		}
		sets := NewHostSets(hosts, []Group{{Name: "app", Hosts: hosts}})
		for _, tc := range []struct {
			name string
			msg  func(host string, line int) string
		}{
			{"same", func(_ string, line int) string { return fmt.Sprintf("warning %d applies to this host", line) }},
			{"distinct", func(host string, line int) string { return fmt.Sprintf("%s: warning %d", host, line) }},
		} {
			b.Run(fmt.Sprintf("hosts=%d/%s", n, tc.name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					p := New(io.Discard, Options{Fold: sets})
					p.Phase("Pre-flight")
					for line := range 14 {
						for _, h := range hosts {
							p.Host(h, "%s", tc.msg(h, line))
						}
					}
					p.Flush()
				}
			})
		}
	}
}
