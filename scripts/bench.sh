#!/usr/bin/env bash
# Runs the side-by-side benchmarks of the bench module (keygate against
# the Go libraries it stands in for and against the floor of each path)
# and prints a Markdown table: per path, each contestant's median time and
# allocations per request, its time over keygate's, and keygate's over
# the floor's.
#
#   ./scripts/bench.sh [-count N] [-benchtime D] [-bench REGEXP]
#
# Defaults: -count 5 rounds, -benchtime 1s, every path; each round runs
# every contestant once, so the run is bounded by about count ×
# contestants × (benchtime + setup), some 3 to 4 minutes with the
# defaults. The raw `go test -bench` output is kept in
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
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=${BENCH_OUT:-$tmp/out.txt}
: >"$out"

# The test binary runs count times, every contestant once per round, so
# that a change in the machine's load falls on all of them alike (go test
# -count N would run each contestant N times in a row).
go test -c -o "$tmp/bench.test" .
for ((round = 1; round <= count; round++)); do
	if ! "$tmp/bench.test" -test.run '^$' -test.bench "$bench" -test.benchmem -test.benchtime "$benchtime" -test.timeout 30m >>"$out" 2>&1; then
		cat "$out" >&2
		echo "bench: the benchmarks failed in round $round" >&2
		exit 1
	fi
done

echo "scripts/bench.sh -count $count -benchtime $benchtime -bench '$bench': $count rounds of go test -bench (github.com/keygate/keygate/bench)"
echo "$(go version | cut -d' ' -f3-), $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo
go run ./benchtable <"$out"
