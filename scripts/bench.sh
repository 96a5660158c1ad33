#!/usr/bin/env bash
# Runs the side-by-side benchmarks of the bench module (keygate against
# the Go libraries it stands in for and against the floor of each path)
# and prints a Markdown table: per path, each contestant's median time and
# allocations per request, its time over keygate's, and keygate's over
# the floor's.
#
#   ./scripts/bench.sh [-count N] [-benchtime D] [-bench REGEXP]
#
# Defaults: -count 5, -benchtime 1s, every path; the run is bounded by
# about count × contestants × (benchtime + setup), some 2 to 3 minutes
# with the defaults. The raw `go test -bench` output is kept in
# $BENCH_OUT when set. Run it on a quiet machine: the medians of a shared
# one move by several percent from run to run.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../bench"

count=5
benchtime=1s
bench=.
while [ $# -gt 0 ]; do
	case "$1" in
	-count) count=$2; shift 2 ;;
	-benchtime) benchtime=$2; shift 2 ;;
	-bench) bench=$2; shift 2 ;;
	*)
		echo "usage: scripts/bench.sh [-count N] [-benchtime D] [-bench REGEXP]" >&2
		exit 2
		;;
	esac
done

export GOWORK=off
out=${BENCH_OUT:-$(mktemp)}
[ -n "${BENCH_OUT:-}" ] || trap 'rm -f "$out"' EXIT

if ! go test -run '^$' -bench "$bench" -benchmem -count "$count" -benchtime "$benchtime" -timeout 30m . >"$out" 2>&1; then
	cat "$out" >&2
	echo "bench: go test failed" >&2
	exit 1
fi

echo "go test -bench '$bench' -benchmem -count $count -benchtime $benchtime (github.com/keygate/keygate/bench)"
echo "$(go version | cut -d' ' -f3-), $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo
go run ./benchtable <"$out"
