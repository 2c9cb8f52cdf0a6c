#!/bin/sh
# credenv.sh BINARY ARG...
#
# The wrapper a unit with secret environment values runs under credential
# delivery (secret_delivery): systemd decrypted the unit's credential
# "openim-deploy-env" (LoadCredentialEncrypted=) into $CREDENTIALS_DIRECTORY,
# a per-service directory in memory; this exports every KEY="value" line of
# it (unit.EnvFile's format: values double-quoted, with \ " ` $ escaped, so
# a POSIX sh reads each value byte for byte) and replaces itself with
# BINARY, a path relative to the release this script lives in ("bin/x"),
# given ARGs. No value is written anywhere: they reach the service's
# environment only, as EnvironmentFile= would.
#
# Installed as <release>/.creds/run, mode 0755. Exit statuses: 64 when
# systemd gave no credentials directory or the credential is missing
# (the unit was not started by systemd with its LoadCredentialEncrypted=);
# otherwise BINARY's own.
set -eu
if [ -z "${CREDENTIALS_DIRECTORY:-}" ] || [ ! -r "$CREDENTIALS_DIRECTORY/openim-deploy-env" ]; then
	echo "credenv: no credential openim-deploy-env in \$CREDENTIALS_DIRECTORY: start this through its systemd unit" >&2
	exit 64
fi
bin=$1
shift
set -a
# shellcheck source=/dev/null
. "$CREDENTIALS_DIRECTORY/openim-deploy-env"
set +a
exec "${0%/*}/../$bin" "$@"
