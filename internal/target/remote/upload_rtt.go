package remote

import (
	"context"
	"fmt"
	"time"
)

// RoundTrip measures the network round trip to the host: the shortest of
// a few keepalive@openssh.com requests, which sshd answers itself without
// running anything, so the figure is the link's (plus sshd's scheduling),
// not a command's. Compressed uploads under compress = "auto" use it to
// tell a local network from a long, slower link.
func (t *Target) RoundTrip(ctx context.Context) (time.Duration, error) {
	const samples = 3 // the shortest filters a host busy at one sample
	best := time.Duration(-1)
	l, err := t.conn(ctx)
	if err != nil {
		return 0, err
	}
	for range samples {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		start := time.Now()
		reply := make(chan error, 1)
		go func() {
			_, _, err := l.client.SendRequest("keepalive@openssh.com", true, nil)
			reply <- err
		}()
		select {
		case err := <-reply:
			if err != nil {
				return 0, t.connErr(fmt.Errorf("round trip to %s: %w", t, err))
			}
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		if d := time.Since(start); best < 0 || d < best {
			best = d
		}
	}
	return best, nil
}
