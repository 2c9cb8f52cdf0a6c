package sim

import (
	"fmt"
	"regexp"
	"strings"
)

// recapLine is one host's line of the recap: "sim-007   ok   changed=0 ...".
var recapLine = regexp.MustCompile(`(?m)^\s*(\S+)\s+(ok|changed|failed|unreachable)\s+changed=(\d+)`)

// CheckNoop checks the output of an apply against a converged fleet: the
// recap lists every simulated host as ok with no change, and no host saw a
// command the simulation does not answer.
func CheckNoop(f *Fleet, out string) error {
	seen := map[string]bool{}
	for _, m := range recapLine.FindAllStringSubmatch(out, -1) {
		if m[2] != "ok" || m[3] != "0" {
			return fmt.Errorf("host %s: recap %s changed=%s, want ok changed=0", m[1], m[2], m[3])
		}
		seen[m[1]] = true
	}
	var missing []string
	for _, h := range f.Hosts {
		if !seen[h.Name] {
			missing = append(missing, h.Name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%d hosts missing from the recap (first: %s)", len(missing), missing[0])
	}
	if u := f.Unknown(); len(u) > 0 {
		return fmt.Errorf("commands the simulation does not answer: %s", strings.Join(u, "; "))
	}
	return nil
}
