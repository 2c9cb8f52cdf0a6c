package unit

import (
	"encoding/json"
	"fmt"

	"github.com/openimsdk/openim-deploy/internal/config"
)

// probeSpec and probeCheck are the check file cmd/openim-probe reads
// (its Spec and Check; a test there parses ProbeSpec's output).
type probeSpec struct {
	Instances map[string]probeCheck `json:"instances"`
}

type probeCheck struct {
	TCP      string   `json:"tcp,omitempty"`
	HTTP     string   `json:"http,omitempty"`
	Exec     []string `json:"exec,omitempty"`
	Interval string   `json:"interval"`
	Timeout  string   `json:"timeout"`
}

// ProbeSpec renders the check file of a service whose unit waits for its
// health check (probe/<service>.json in the release): every instance's
// probe as the playbook evaluated it for this host, and the interval and
// per-try timeout of its health block. The unit's TimeoutStartSec= bounds
// the whole wait, so retries is not in it. Keys come out sorted
// (encoding/json sorts maps), so the file's hash is stable.
func ProbeSpec(s *config.Service) ([]byte, error) {
	spec := probeSpec{Instances: make(map[string]probeCheck, len(s.Instances))}
	for _, in := range s.Instances {
		h := in.Health
		if h.TCP == "" && h.HTTP == "" && len(h.Exec) == 0 {
			return nil, fmt.Errorf("instance %s has no health probe to wait for", in.Name)
		}
		spec.Instances[in.Name] = probeCheck{TCP: h.TCP, HTTP: h.HTTP, Exec: h.Exec,
			Interval: h.Interval.String(), Timeout: h.Timeout.String()}
	}
	b, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
