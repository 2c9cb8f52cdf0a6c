#!/usr/bin/env bash
# make deps: install what `make test` needs beyond Go, asking apt-get only
# for a tool that is missing (as lab/lab.sh does for the lab's own tools,
# which `make lab` installs). Runs before the tests, so a fresh machine
# fails in seconds, not after twenty minutes of tests, when something
# cannot be had. Not root: say what is missing and let the tests skip
# what needs it (make test skips the lab there too).
set -euo pipefail

missing=()
command -v shellcheck >/dev/null || missing+=(shellcheck)
# The load balancer lab test (internal/e2e/hooks_lb_test.go) runs HAProxy
# on the controller and drives its runtime API from hooks with socat.
command -v haproxy >/dev/null || missing+=(haproxy)
command -v socat >/dev/null || missing+=(socat)
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) != 0 ]]; then
	echo "deps: not root, not installing: ${missing[*]} (the tests that need them are skipped)" >&2
	exit 0
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q "${missing[@]}" >/dev/null ||
	{ apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; } || {
	echo "deps: could not install ${missing[*]} with apt-get" >&2
	exit 1
}
