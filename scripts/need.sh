# shellcheck shell=bash
# Installing the Debian packages a script needs, for the load scripts
# (scripts/load.sh, scripts/load-audit.sh), which source this file. The
# sourcing script defines die (print the message on stderr, exit 1) and
# NEED_NAME, the name its messages start with.

# as_root runs a command as root: directly, or through sudo when there is one.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		die "$1 needs root, and there is no sudo: install the missing package yourself"
	fi
}

# need installs the Debian package $2 if command $1 is missing.
need() {
	command -v "$1" >/dev/null 2>&1 && return
	echo "$NEED_NAME: installing $2" >&2
	if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null; then
		as_root apt-get update -q >/dev/null
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null
	fi
	command -v "$1" >/dev/null 2>&1 || die "could not install $2"
}
