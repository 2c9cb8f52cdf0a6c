# shellcheck shell=sh
# clean.sh ROOT
#
# Removes releases left half built by interrupted runs. The caller holds
# the host's lock, so no run is building one now. They may hold secret
# environment files, which must not linger.
set -eu
root=$1
for p in "$root"/releases/.*.partial; do
	if [ -e "$p" ]; then rm -rf -- "$p"; fi
done
exit 0
