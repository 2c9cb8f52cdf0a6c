# shellcheck shell=sh
# header.sh: header_app LINE succeeds when LINE (a file's first line) is a
# header openim-deploy writes, and sets hdr_app to the app it names ("" for
# a header of a version that named none); it fails for anything else. The
# sh twin of unit.ParseHeader (a test runs both over the same lines); it
# is prepended to the scripts that check a file before writing over it.
# Runs under LC_ALL=C: the bracket expressions match bytes.
# shellcheck disable=SC2034 # hdr_app is read by the scripts it is prepended to
header_app() {
	hdr_app=
	case $1 in
	'# Managed by openim-deploy:'*) return 0 ;;
	'# Managed by openim-deploy (app='*) ;;
	*) return 1 ;;
	esac
	hdr_rest=${1#'# Managed by openim-deploy (app='}
	hdr_name=${hdr_rest%%[!A-Za-z0-9_.-]*}
	case $hdr_name in '' | [!A-Za-z0-9]*) return 1 ;; esac
	case ${hdr_rest#"$hdr_name"} in ')'*) hdr_app=$hdr_name ;; *) return 1 ;; esac
}
