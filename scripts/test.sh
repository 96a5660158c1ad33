#!/usr/bin/env bash
# The whole test suite: gofmt, go vet, staticcheck and go test -race, in every
# Go module of the repository (drivers will live in nested modules).
#
#   ./scripts/test.sh
#
# CI runs it through .ci/run.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

STATICCHECK=honnef.co/go/tools/cmd/staticcheck@v0.8.2

step() {
	printf '\n==> %s\n' "$*"
}

# later issues: start Redis/PostgreSQL here (and Chromium for the browser
# tests), export their addresses, and stop them on exit with a trap.

# Every module: each directory with a go.mod, outside vendor/ and testdata/.
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

for mod in "${modules[@]}"; do
	step "go vet ($mod)"
	(cd "$mod" && go vet ./...)

	step "staticcheck ($mod)"
	(cd "$mod" && go run "$STATICCHECK" ./...)

	step "go test -race ($mod)"
	(cd "$mod" && go test -race -count=1 ./...)
done

step "all checks passed"
