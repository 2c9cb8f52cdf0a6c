package lock

import (
	"bytes"
	"fmt"
	"strconv"
)

// Rider is a read-only script that runs right after the lock is taken, in
// the same round trip: "sh -c SCRIPT sh ARGS..." folded into the acquire
// command, so a run that locks and then reads the host opens one session
// instead of two. It runs only when the lock was taken. Script must be a
// constant, like the lock's own scripts: values go in Args.
type Rider struct {
	Script string
	Args   []string
	// Stdout is what Script printed, and Err why it failed (its exit
	// status, as a *RiderError), both filled in by AcquireWith.
	Stdout []byte
	Err    error
}

// RiderError reports a rider that exited non-zero; the lock was taken.
type RiderError struct{ Code int }

func (e *RiderError) Error() string { return "exit status " + strconv.Itoa(e.Code) }

// Markers in the combined output: the acquire script's exit status follows
// the first, the rider's the second.
const (
	acquireMarker = "@@openim-deploy-lock-rc@@ "
	riderMarker   = "@@openim-deploy-rider-rc@@ "
)

// withRider composes the acquire script and a rider into one program. Each
// runs in its own subshell, so an exit in either ends only that part. The
// acquire script takes its three arguments from the front, the rider the
// rest; only the acquire script reads stdin. The program exits with the
// acquire script's status, so callers branch on it as on a bare acquire.
func withRider(rider string) string {
	return "(\n" + acquireScript + "\n)\nrc=$?\nprintf '\\n" + acquireMarker + "%s\\n' \"$rc\"\n" +
		"[ \"$rc\" = 0 ] || exit \"$rc\"\nshift 3\n(\n" + rider + "\n) </dev/null\n" +
		"printf '\\n" + riderMarker + "%s\\n' \"$?\"\n"
}

// splitRider cuts the combined output into the acquire script's output and
// the rider's, with the rider's exit status (-1 when it did not run).
func splitRider(out []byte) (acq, rider []byte, riderRC int, err error) {
	i := bytes.Index(out, []byte("\n"+acquireMarker))
	if i < 0 {
		return nil, nil, -1, fmt.Errorf("lock: output has no acquire status: %q", out)
	}
	acq, rest := out[:i], out[i+1+len(acquireMarker):]
	_, rest, _ = bytes.Cut(rest, []byte("\n"))
	j := bytes.LastIndex(rest, []byte("\n"+riderMarker))
	if j < 0 {
		return acq, nil, -1, nil
	}
	rider, status := rest[:j], bytes.TrimSpace(rest[j+1+len(riderMarker):])
	riderRC, err = strconv.Atoi(string(status))
	if err != nil {
		return nil, nil, -1, fmt.Errorf("lock: rider status %q: %w", status, err)
	}
	return acq, rider, riderRC, nil
}
