# shellcheck shell=sh
# record.sh STATEDIR TASK FINGERPRINT
#
# Records that TASK succeeded with the inputs named by FINGERPRINT, so the
# next plan re-runs it only when they change.
set -eu
mkdir -p -- "$1/ran"
printf '%s\n' "$3" >"$1/ran/$2.tmp"
mv -f -- "$1/ran/$2.tmp" "$1/ran/$2"
