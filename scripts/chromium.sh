#!/usr/bin/env bash
# The headless browser that the console's browser tests drive (cmd/keygate,
# through chromedp): Debian's chromium.
#
#   ./scripts/chromium.sh install   # install if missing (idempotent), print its path
#   eval "$(./scripts/chromium.sh env)"
#   ./scripts/chromium.sh path      # print its path; exit 1 if there is none
#
# env prints the variable the tests read:
#
#   export KEYGATE_TEST_CHROMIUM=/usr/bin/chromium
#
# install installs the package chromium through apt-get when no browser is
# found (as root, or through sudo), updating the package lists first, and
# fails with the reason on stderr when it cannot. scripts/test.sh runs it:
# under CI=true a browser that cannot be installed fails the run; elsewhere
# the browser tests skip, saying why.
#
# Settings (environment):
#
#   KEYGATE_CHROMIUM  the browser to use instead of the one found on PATH
#                     (chromium, then chromium-browser)
set -euo pipefail

die() {
	echo "chromium: $*" >&2
	exit 1
}

# find_browser prints the browser's path, or fails.
find_browser() {
	if [ -n "${KEYGATE_CHROMIUM:-}" ]; then
		[ -x "$KEYGATE_CHROMIUM" ] || die "KEYGATE_CHROMIUM=$KEYGATE_CHROMIUM is not an executable file"
		printf '%s\n' "$KEYGATE_CHROMIUM"
		return
	fi
	local name
	for name in chromium chromium-browser; do
		if command -v "$name" >/dev/null 2>&1; then
			command -v "$name"
			return
		fi
	done
	return 1
}

# as_root runs a command as root: directly, or through sudo when there is one.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		die "installing chromium needs root, and there is no sudo: install the package chromium yourself"
	fi
}

install() {
	if find_browser >/dev/null; then
		find_browser
		return
	fi
	command -v apt-get >/dev/null 2>&1 ||
		die "no chromium on PATH, and there is no apt-get to install it with (set KEYGATE_CHROMIUM to a Chromium or Chrome binary)"
	echo "chromium: installing chromium (apt-get)" >&2
	local log
	log=$(mktemp)
	if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >"$log" 2>&1 ||
		! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >>"$log" 2>&1; then
		tail -n 20 "$log" >&2
		rm -f "$log"
		die "apt-get could not install chromium"
	fi
	rm -f "$log"
	find_browser || die "chromium installed, but not found on PATH"
}

case ${1:-} in
install)
	install
	;;
path)
	find_browser || die "no chromium found (./scripts/chromium.sh install installs it)"
	;;
env)
	browser=$(find_browser) || die "no chromium found (./scripts/chromium.sh install installs it)"
	printf 'export KEYGATE_TEST_CHROMIUM=%q\n' "$browser"
	;;
*)
	echo "usage: $0 install|path|env" >&2
	exit 2
	;;
esac
