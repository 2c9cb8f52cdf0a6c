package lock

import _ "embed"

// The lock's whole on-host protocol is the scripts in scripts/, each one
// constant POSIX sh program run as "sh -c SCRIPT sh ARG...", after
// scripts/prelude.sh, which says what a lease is on the host and defines
// what every script shares. Their headers say what each takes and prints.
var (
	//go:embed scripts/prelude.sh
	prelude string
	//go:embed scripts/acquire.sh
	acquireBody string
	//go:embed scripts/refresh.sh
	refreshBody string
	//go:embed scripts/release.sh
	releaseBody string
	//go:embed scripts/break.sh
	breakBody string
	//go:embed scripts/read.sh
	readBody string
)

// The scripts as sent: each after the prelude.
var (
	// acquireScript: $1 lease dir, $2 TTL in seconds, $3 new lease id;
	// stdin is the info JSON without its closing brace.
	acquireScript = prelude + acquireBody
	// refreshScript: $1 lease dir, $2 our id, $3 TTL in seconds.
	refreshScript = prelude + refreshBody
	// releaseScript: $1 lease dir, $2 our id.
	releaseScript = prelude + releaseBody
	// breakScript: $1 lease dir. Prints the lease it removes.
	breakScript = prelude + breakBody
	// readScript: $1 lease dir. Prints the lease, if any.
	readScript = prelude + readBody
)

// Exit statuses of the lock scripts, each listed in the header of the
// scripts that use it; 0 is success and anything else a failure.
const (
	// exitHeld: acquire.sh found a live lease held by someone else
	// (EX_TEMPFAIL), and printed it.
	exitHeld = 75
	// exitLost: the lease is not ours (refresh.sh, release.sh): broken,
	// or taken over after it expired.
	exitLost = 3
	// exitNotLocked: there is no lease (break.sh, read.sh).
	exitNotLocked = 4
)
