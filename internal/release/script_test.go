package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"
)

// scriptTestEnv is set in the environment of the release script that
// TestReleaseScript runs, so that the script's own test step, which runs
// this package's tests in the clone, does not run TestReleaseScript again.
const scriptTestEnv = "KEYGATE_RELEASE_SCRIPT_TEST"

// TestReleaseScript runs scripts/release.sh for real, through Git, in a
// clone of the repository in a temporary directory (it commits and tags
// there, and pushes nothing): the tags exist, on the release commit, in
// dependency order; the tagged go.mod files require the repository's
// modules at the version, with no replace directive; the working copy is
// back to the development go.mod files (replace directives, requiring the
// version). Then the script's refusals: a tag that exists, a bad version,
// a dirty working tree, no version.
//
// The script's own test step runs this package's tests in the clone in
// short mode: TestGoGetFromProxy, the slow one, is run on its own by the
// same `go test` as this test.
func TestReleaseScript(t *testing.T) {
	if testing.Short() || os.Getenv(scriptTestEnv) != "" {
		t.Skip("runs the release script, which builds and tests this module")
	}
	for _, tool := range []string{"git", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s: %v", tool, err)
		}
	}
	src, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(t.TempDir(), "keygate")
	env := append(os.Environ(),
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull, // no signing, no hooks of the user's
		"GIT_AUTHOR_NAME=release test", "GIT_AUTHOR_EMAIL=release@example.com",
		"GIT_COMMITTER_NAME=release test", "GIT_COMMITTER_EMAIL=release@example.com",
		"GOFLAGS="+strings.TrimSpace(os.Getenv("GOFLAGS")+" -short"),
		scriptTestEnv+"=1",
	)
	run := func(dir string, name string, args ...string) (string, string, error) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir, cmd.Env = dir, env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}
	git := func(args ...string) string {
		t.Helper()
		out, errOut, err := run(repo, "git", args...)
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, errOut)
		}
		return strings.TrimSpace(out)
	}
	if _, errOut, err := run("", "git", "clone", "-q", "--no-hardlinks", src, repo); err != nil {
		t.Fatalf("git clone: %v\n%s", err, errOut)
	}
	// The release tooling under test is the working tree's, committed or
	// not: the script, and the tool it builds from this module.
	tooling, err := filepath.Glob(filepath.Join(src, "internal", "release", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range append(tooling, filepath.Join(src, "scripts", "release.sh")) {
		rel, err := filepath.Rel(src, name)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(repo, rel), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	git("add", "-A")
	if git("status", "--porcelain") != "" {
		git("commit", "-q", "-m", "the working tree's release tooling")
	}
	base := git("rev-parse", "HEAD")
	tagsBefore := git("tag", "--list")

	const version = "v0.9.9"
	out, errOut, err := run(repo, "bash", "scripts/release.sh", version)
	if err != nil {
		t.Fatalf("release.sh %s: %v\nstdout:\n%s\nstderr:\n%s", version, err, out, errOut)
	}

	// The history: the release commit on the base, then the development
	// go.mod files back, and nothing left over in the working tree.
	release := git("rev-parse", "HEAD~1")
	if got := git("rev-parse", "HEAD~2"); got != base {
		t.Errorf("HEAD~2 is %s, want the base %s: two commits, the release and the way back", got, base)
	}
	if got := git("log", "-1", "--format=%s", release); got != "release: "+version {
		t.Errorf("the release commit says %q", got)
	}
	if st := git("status", "--porcelain"); st != "" {
		t.Errorf("the working tree is not clean after the release:\n%s", st)
	}

	// The tags: the ones the script says it made, in its order, each on
	// the release commit, and no other.
	var tags []string
	for line := range strings.Lines(out) {
		if rest, ok := strings.CutPrefix(line, "tagged "); ok {
			_, list, _ := strings.Cut(strings.TrimSpace(rest), ": ")
			tags = strings.Fields(list)
		}
	}
	mods, err := loadModules(repo)
	if err != nil {
		t.Fatal(err)
	}
	if len(tags) != len(mods) {
		t.Fatalf("the script tagged %q, want one tag for each of the %d modules; stdout:\n%s", tags, len(mods), out)
	}
	var newTags []string
	for _, tag := range strings.Fields(git("tag", "--list")) {
		if !slices.Contains(strings.Fields(tagsBefore), tag) {
			newTags = append(newTags, tag)
		}
	}
	if got, want := slices.Sorted(slices.Values(newTags)), slices.Sorted(slices.Values(tags)); !slices.Equal(got, want) {
		t.Errorf("new tags %q, want %q", got, want)
	}
	byPath := make(map[string]mod, len(mods))
	for _, m := range mods {
		byPath[m.Path] = m
	}
	order := make(map[string]int, len(tags)) // module path → its tag's place
	for _, m := range mods {
		i := slices.Index(tags, m.Tag(version))
		if i < 0 {
			t.Fatalf("no tag %s for %s among %q", m.Tag(version), m.Path, tags)
		}
		order[m.Path] = i
		if got := git("rev-parse", m.Tag(version)+"^{commit}"); got != release {
			t.Errorf("tag %s is on %s, want the release commit %s", m.Tag(version), got, release)
		}
	}
	if tags[0] != version {
		t.Errorf("first tag %s, want the root's, %s", tags[0], version)
	}

	// The tagged go.mod files: the repository's modules at the version,
	// no replace of them, each tagged after those it requires.
	for _, m := range mods {
		name := filepath.ToSlash(filepath.Join(m.Dir, "go.mod"))
		f, err := modfile.Parse(name, []byte(git("show", m.Tag(version)+":"+name)), nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range f.Require {
			if _, ok := byPath[r.Mod.Path]; !ok {
				continue
			}
			if r.Mod.Version != version {
				t.Errorf("tagged %s requires %s, want %s", name, r.Mod, version)
			}
			if order[r.Mod.Path] >= order[m.Path] {
				t.Errorf("tag %s comes before %s, which it requires", m.Tag(version), r.Mod.Path)
			}
		}
		for _, r := range f.Replace {
			if _, ok := byPath[r.Old.Path]; ok {
				t.Errorf("tagged %s replaces %s => %s", name, r.Old.Path, r.New)
			}
		}
	}

	// The working copy is back to development: every nested module
	// requires the others at the version and replaces them with their
	// directories.
	if got, err := devVersion(mods); err != nil || got != version {
		t.Errorf("after the release, the go.mod files require %q (%v), want %s with replace directives", got, err, version)
	}

	// Refusals: each exits non-zero, says why, and commits and tags
	// nothing.
	head, allTags := git("rev-parse", "HEAD"), git("tag", "--list")
	refuse := func(what, wantStatus, wantErr string, args ...string) {
		t.Helper()
		out, errOut, err := run(repo, "bash", append([]string{"scripts/release.sh"}, args...)...)
		if err == nil {
			t.Errorf("%s: release.sh %q succeeded; stdout:\n%s", what, args, out)
		} else if status := err.Error(); status != wantStatus {
			t.Errorf("%s: release.sh %q: %s, want %s", what, args, status, wantStatus)
		}
		if !strings.Contains(errOut, wantErr) {
			t.Errorf("%s: release.sh %q said %q, want %q in it", what, args, errOut, wantErr)
		}
		if got := git("rev-parse", "HEAD"); got != head {
			t.Errorf("%s: HEAD moved to %s", what, got)
		}
		if got := git("tag", "--list"); got != allTags {
			t.Errorf("%s: the tags changed:\n%s", what, got)
		}
	}
	refuse("released already", "exit status 1", "tag "+version+" exists already", version)
	refuse("no v", "exit status 1", "not a canonical semantic version", "0.9.10")
	refuse("major version 2", "exit status 1", "needs module paths ending in /v2", "v2.0.0")
	refuse("pseudo-version", "exit status 1", "pseudo-version", "v0.9.10-0.20260101000000-abcdefabcdef")
	refuse("no version", "exit status 2", "usage:")
	refuse("an option for a version", "exit status 2", "usage:", "-v0.9.10")

	if err := os.WriteFile(filepath.Join(repo, "README.md"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	refuse("a changed file", "exit status 1", "the working tree is not clean", "v0.9.10")
	git("checkout", "--", "README.md")
	if err := os.WriteFile(filepath.Join(repo, "new.txt"), []byte("new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	refuse("an untracked file", "exit status 1", "the working tree is not clean", "v0.9.10")
}
