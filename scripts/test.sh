#!/usr/bin/env bash
# The whole test suite: gofmt, go vet, staticcheck and go test -race, in every
# Go module of the repository (drivers will live in nested modules).
#
#   ./scripts/test.sh
#
# CI runs it through .ci/run.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Each module is checked alone, as its users build it; go.work is only a
# convenience for running the programs from the repository root.
export GOWORK=off

STATICCHECK=honnef.co/go/tools/cmd/staticcheck@v0.8.2

step() {
	printf '\n==> %s\n' "$*"
}

# Redis and PostgreSQL for the storage backends' tests (scripts/services.sh,
# which installs them when missing): started here unless already running,
# their addresses exported, and stopped on exit if started here. Under
# CI=true a server that cannot be installed or started fails the run;
# elsewhere the run goes on without them and the tests that need one skip,
# saying so. Chromium, for the console's browser tests, likewise
# (scripts/chromium.sh).
services_started=
stop_services() {
	if [ -n "$services_started" ]; then
		./scripts/services.sh stop || true
	fi
}
trap stop_services EXIT
step "services"
if ./scripts/services.sh status >/dev/null 2>&1; then
	echo "Redis and PostgreSQL already running: left running"
	eval "$(./scripts/services.sh env)"
else
	services_started=1
	if ./scripts/services.sh start; then
		eval "$(./scripts/services.sh env)"
	elif [ "${CI:-}" = true ]; then
		echo "tests: Redis and PostgreSQL could not be started, and CI=true needs them" >&2
		exit 1
	else
		echo "warning: Redis and PostgreSQL could not be started: the tests that need them will skip" >&2
	fi
fi

step "chromium"
if browser=$(./scripts/chromium.sh install); then
	export KEYGATE_TEST_CHROMIUM=$browser
	echo "$KEYGATE_TEST_CHROMIUM: $("$KEYGATE_TEST_CHROMIUM" --version 2>/dev/null || echo "version unknown")"
elif [ "${CI:-}" = true ]; then
	echo "tests: Chromium could not be installed, and CI=true needs it for the browser tests" >&2
	exit 1
else
	echo "warning: Chromium could not be installed: the browser tests will skip" >&2
fi

# Every module: each directory with a go.mod, outside vendor/ and testdata/.
# Among them internal/release, whose test releases the working tree into a
# module proxy in a temporary directory and builds a module outside the
# repository from it (see README, Releasing).
modules=()
while IFS= read -r gomod; do
	modules+=("$(dirname "$gomod")")
done < <(find . \( -name vendor -o -name testdata -o -name .git \) -prune -o -name go.mod -print | LC_ALL=C sort)
if [ "${#modules[@]}" -eq 0 ]; then
	echo "no go.mod found" >&2
	exit 1
fi

go version
echo "modules: ${modules[*]}"

step "gofmt"
unformatted=$(find . \( -name vendor -o -name testdata -o -name .git \) -prune -o -name '*.go' -print0 | xargs -0 -r gofmt -l)
if [ -n "$unformatted" ]; then
	echo "these files are not gofmt-formatted (run gofmt -w on them):" >&2
	echo "$unformatted" >&2
	exit 1
fi
echo "ok"

# owning_module DIR prints the module directory (as listed in modules) that
# holds DIR: the nearest directory at or above it with a go.mod.
owning_module() {
	local d=$1
	while [ ! -f "$d/go.mod" ]; do
		d=$(dirname "$d")
	done
	printf '%s\n' "$d"
}

# fuzz_one MOD PKG TARGET runs one fuzz target for $fuzztime. Go 1.26's
# fuzzing coordinator can report its own -fuzztime deadline as a failure,
# "context deadline exceeded", with no failing input (golang/go#75804,
# fixed in Go 1.27): such a run, and only such a run, is tried once more.
# A real failure writes its input under testdata/fuzz and fails at once.
fuzz_one() {
	local mod=$1 pkg=$2 target=$3 out corpus before after
	corpus="$mod/${pkg#./}/testdata/fuzz/$target"
	for attempt in 1 2; do
		before=$(find "$corpus" -type f 2>/dev/null | wc -l || true)
		out=$(cd "$mod" && go test -run='^$' -fuzz="^$target\$" -fuzztime="$fuzztime" "$pkg" 2>&1) && {
			printf '%s\n' "$out"
			return 0
		}
		printf '%s\n' "$out"
		after=$(find "$corpus" -type f 2>/dev/null | wc -l || true)
		if [ "$attempt" = 1 ] && [ "$after" = "$before" ] && grep -q 'context deadline exceeded' <<<"$out"; then
			echo "fuzz: $target hit the coordinator's deadline race (golang/go#75804), no failing input: once more"
			continue
		fi
		echo "tests: fuzz target $target failed" >&2
		return 1
	done
}

passed=0
skipped=0
for mod in "${modules[@]}"; do
	step "go mod tidy -diff ($mod)"
	(cd "$mod" && go mod tidy -diff)

	step "go vet ($mod)"
	(cd "$mod" && go vet ./...)

	step "staticcheck ($mod)"
	(cd "$mod" && go run "$STATICCHECK" ./...)

	step "go test -race ($mod)"
	log=$(mktemp)
	if ! (cd "$mod" && go test -race -count=1 -v ./...) >"$log" 2>&1; then
		cat "$log"
		rm -f "$log"
		echo "tests: go test failed in $mod" >&2
		exit 1
	fi
	grep -E '^(ok|\?|FAIL)\s' "$log" || true
	passed=$((passed + $(grep -cE '^\s*--- PASS' "$log" || true)))
	skipped=$((skipped + $(grep -cE '^\s*--- SKIP' "$log" || true)))
	grep -E '^\s*--- SKIP' -B1 "$log" || true
	rm -f "$log"
done

# A short run of every fuzz target (their seed corpora already ran as unit
# tests above). FUZZTIME=0 skips this.
fuzztime=${FUZZTIME:-5s}
if [ "$fuzztime" != 0 ]; then
	for mod in "${modules[@]}"; do
		while IFS= read -r file; do
			pkg=$(dirname "$file")
			dir="$mod/${pkg#./}"
			if [ "$(owning_module "${dir%/.}")" != "$mod" ]; then
				continue # a nested module's target: run from that module
			fi
			targets=$(grep -oE '^func Fuzz[A-Za-z0-9_]+' "$mod/${file#./}" | cut -d' ' -f2) || {
				echo "tests: cannot read the fuzz targets of $mod/${file#./}" >&2
				exit 1
			}
			for target in $targets; do
				step "fuzz $target ($mod/${pkg#./}, $fuzztime)"
				fuzz_one "$mod" "$pkg" "$target"
			done
		done < <(cd "$mod" && grep -rlE --include='*_test.go' '^func Fuzz' . | LC_ALL=C sort)
	done
fi

step "all checks passed"
echo "tests: $passed passed, 0 failed, $skipped skipped"
