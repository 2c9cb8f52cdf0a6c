package lock

import (
	"fmt"

	"github.com/openimsdk/openim-deploy/internal/target"
)

// ReadPart is Read as one part of a composed read-only program, so a run
// learns who holds the lock in the round trip that reads the host for its
// plan; ParseRead reads the part's output and exit status.
func ReadPart(path string) (target.Part, error) {
	if err := checkPath(path); err != nil {
		return target.Part{}, err
	}
	return target.Part{Script: readScript, Args: []string{path}}, nil
}

// ParseRead is Read's answer from ReadPart's output and exit status: nil
// and no error when there is no lease.
func ParseRead(out []byte, code int) (*Info, error) {
	switch code {
	case exitNotLocked:
		return nil, nil
	case 0:
		info, err := parseShow(out)
		return &info, err
	default:
		return nil, fmt.Errorf("read lock: exit status %d", code)
	}
}

// Live reports whether the lease read is held by a run that may still be
// going: not past its expiry, or unfinished (a run between its mkdir and
// its writes). An expired lease is taken over by the next acquire.
func (i *Info) Live() bool { return i != nil && (i.Incomplete || i.Remaining > 0) }
