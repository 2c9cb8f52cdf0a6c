// Package audit holds repository-wide checks that run with go test: no
// non-test file may switch host key checking off, the SSH library must
// stay at a version without the known agent and known_hosts flaws, and
// on-host shell lives only in embedded scripts/*.sh files that their
// package's tests shellcheck (never in a Go string). The package has no
// code of its own beyond the detectors the tests use.
package audit
