# shellcheck shell=sh
# record.sh STATEDIR TASK FINGERPRINT
#
# Records that TASK succeeded with the inputs named by FINGERPRINT, so the
# next plan re-runs it only when they change. The fingerprint is a hash
# of the task's inputs, its secrets among them: root's alone (umask 077).
set -eu
umask 077
mkdir -p -- "$1/ran"
printf '%s\n' "$3" >"$1/ran/$2.tmp"
mv -f -- "$1/ran/$2.tmp" "$1/ran/$2"
