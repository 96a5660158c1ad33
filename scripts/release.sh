#!/usr/bin/env bash
# Releases every module of the repository at one version, in a local commit
# and local tags; it pushes nothing.
#
#   ./scripts/release.sh [--dry-run] VERSION      # VERSION such as v0.1.0
#
# On a clean working tree, it
#  1. runs the release test (internal/release: the modules, released into a
#     module proxy in a temporary directory, are got and built by a module
#     outside the repository);
#  2. rewrites the nested modules' go.mod files as released: each requires
#     the root and the others at VERSION, with no replace directive
#     (dependents ignore them, and `go install module@version` refuses a
#     module with one), and commits them, "release: VERSION";
#  3. tags that commit in dependency order, the root first (VERSION), then
#     each nested module (sqlstore/VERSION, ..., cmd/keygate/VERSION);
#  4. puts the replace directives back, for in-repo builds, in a second
#     commit: between releases the nested modules require the last release
#     and build from the repository's directories (GOWORK=off, as
#     scripts/test.sh checks them).
# Then it prints the command that publishes the release. With --dry-run it
# changes nothing: it prints the go.mod changes and the tags it would make.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

dry_run=
case "${1:-}" in
--dry-run)
	dry_run=1
	shift
	;;
esac
if [ $# -ne 1 ] || [ -z "$1" ] || [ "${1#-}" != "$1" ]; then
	echo "usage: scripts/release.sh [--dry-run] VERSION" >&2
	exit 2
fi
version=$1

export GOWORK=off

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The release tool (internal/release, a module of its own).
(cd internal/release && go build -o "$tmp/release" .)
release() {
	"$tmp/release" -root "$root" "$@"
}

if [ -n "$(git status --porcelain)" ]; then
	echo "release: the working tree is not clean:" >&2
	git status --short >&2
	exit 1
fi
current=$(release check)
tag_list=$(release tags "$version") # fails on an invalid version
mapfile -t tags <<<"$tag_list"
for tag in "${tags[@]}"; do
	if git rev-parse -q --verify "refs/tags/$tag" >/dev/null; then
		echo "release: tag $tag exists already" >&2
		exit 1
	fi
done

echo "modules now require $current; releasing $version"

if [ -n "$dry_run" ]; then
	mkdir "$tmp/tree"
	git archive HEAD | tar -x -C "$tmp/tree"
	"$tmp/release" -root "$tmp/tree" rewrite "$version" >/dev/null
	for gomod in $(git ls-files '*go.mod' 'go.mod'); do
		git --no-pager diff --no-index -- "$gomod" "$tmp/tree/$gomod" || true
	done
	echo
	echo "dry run: would run the release test, commit \"release: $version\", tag it (in this order):"
	printf '  %s\n' "${tags[@]}"
	echo "and commit the replace directives back for development. Nothing changed."
	exit 0
fi

echo "==> the release test"
(cd internal/release && KEYGATE_RELEASE_VERSION=$version go test -count=1 ./...)

base=$(git rev-parse HEAD)
changed_list=$(release rewrite "$version")
mapfile -t changed <<<"$changed_list"
git add -- "${changed[@]}"
git commit -q -m "release: $version" -m "Every module at $version, nested modules requiring each other at it, with no replace directive."
for tag in "${tags[@]}"; do
	git tag -a "$tag" -m "keygate $tag"
done
echo "tagged $(git rev-parse --short HEAD): ${tags[*]}"

# Back to development: the go.mod files as they were, requiring $version.
git checkout "$base" -- "${changed[@]}"
release rewrite -dev "$version" >/dev/null
git add -- "${changed[@]}"
if ! git diff --cached --quiet; then
	git commit -q -m "go.mod: replace directives back for in-repo builds after $version"
fi
release check >/dev/null

echo
echo "Nothing is pushed. To publish, push the branch and the tags, root first:"
echo "  git push origin HEAD ${tags[*]}"
