package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/zip"
)

// repoRoot is the repository's root directory, from this package's.
const repoRoot = "../.."

func TestCheckVersion(t *testing.T) {
	for _, tt := range []struct {
		version string
		ok      bool
	}{
		{"v0.1.0", true},
		{"v1.2.3", true},
		{"v1.0.0-rc.1", true},
		{"0.1.0", false},
		{"v0.1", false},
		{"v0.1.0+build", false},
		{"v2.0.0", false},
		{"v0.0.0-00010101000000-000000000000", false},
		{"v0.1.1-0.20260101000000-abcdefabcdef", false},
		{"", false},
	} {
		if err := checkVersion(tt.version); (err == nil) != tt.ok {
			t.Errorf("checkVersion(%q) = %v, want ok %v", tt.version, err, tt.ok)
		}
	}
}

func parseMod(t *testing.T, dir, text string) mod {
	t.Helper()
	f, err := modfile.Parse(dir+"/go.mod", []byte(text), nil)
	if err != nil {
		t.Fatal(err)
	}
	return mod{Dir: dir, Path: f.Module.Mod.Path, File: f}
}

func TestSortModules(t *testing.T) {
	root := parseMod(t, ".", "module github.com/keygate/keygate\n")
	store := parseMod(t, "store", "module github.com/keygate/keygate/store\nrequire github.com/keygate/keygate v0.1.0\n")
	driver := parseMod(t, "a", "module github.com/keygate/keygate/a\nrequire (\n\tgithub.com/keygate/keygate/store v0.1.0\n\texample.com/other v1.0.0\n)\n")
	cmd := parseMod(t, "cmd/x", "module github.com/keygate/keygate/cmd/x\nrequire github.com/keygate/keygate/a v0.1.0\n")
	sorted, err := sortModules([]mod{cmd, driver, store, root})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range sorted {
		got = append(got, m.Tag("v0.1.0"))
	}
	if want := []string{"v0.1.0", "store/v0.1.0", "a/v0.1.0", "cmd/x/v0.1.0"}; !slices.Equal(got, want) {
		t.Errorf("tags %q, want %q", got, want)
	}

	loop := parseMod(t, ".", "module github.com/keygate/keygate\nrequire github.com/keygate/keygate/a v0.1.0\n")
	if _, err := sortModules([]mod{loop, driver, store}); err == nil {
		t.Error("a cycle sorted without error")
	}
}

// TestReleased: the tooling under internal/ and the benchmark module under
// bench/ are not released; every other module is.
func TestReleased(t *testing.T) {
	for dir, want := range map[string]bool{
		".": true, "sqlite": true, "cmd/keygate": true, "benchmarks": true, "cmd/bench": true,
		"internal": false, "internal/release": false, "bench": false, "bench/x": false, "bench/load": false, "internalx": true,
	} {
		if got := released(dir); got != want {
			t.Errorf("released(%q) = %v, want %v", dir, got, want)
		}
	}
	mods, err := loadModules(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mods {
		if !released(m.Dir) {
			t.Errorf("loadModules returned %s, which is not released", m.Dir)
		}
	}
	if _, err := os.Stat(filepath.Join(repoRoot, "bench", "go.mod")); err != nil {
		t.Errorf("no bench module: %v", err)
	}
}

// TestRepositoryModules checks the repository's go.mod files: every
// nested module requires the others at one release version, replaced by
// their directories; the root module is tagged first; the released
// go.mod files have no replace directive; and rewriting them back for
// development gives the files of the repository.
func TestRepositoryModules(t *testing.T) {
	mods, err := loadModules(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	if mods[0].Dir != "." {
		t.Errorf("first module %s, want the root", mods[0].Dir)
	}
	version, err := devVersion(mods)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := rewrite(mods, version, true)
	if err != nil {
		t.Fatal(err)
	}
	for name := range dev {
		t.Errorf("%s is not as `release rewrite -dev %s` writes it", name, version)
	}

	const next = "v1.8.7"
	if _, err := rewrite(mods, next, false); err != nil {
		t.Fatal(err)
	}
	for _, m := range mods {
		for _, r := range m.File.Replace {
			if strings.HasPrefix(r.Old.Path, rootPath) {
				t.Errorf("released %s still replaces %s", m.Path, r.Old.Path)
			}
		}
		for _, r := range m.File.Require {
			if strings.HasPrefix(r.Mod.Path, rootPath) && r.Mod.Version != next {
				t.Errorf("released %s requires %s, want %s", m.Path, r.Mod, next)
			}
		}
	}
}

// TestGoGetFromProxy releases the working tree into a module proxy in a
// temporary directory (the zip, .mod, .info and list files of every
// module, in GOPROXY's file layout) and builds, outside the repository
// and without replace directives, a module that gets the SQLite backend
// and the root at the release version and runs a program creating an
// account in a SQLite file; then it installs cmd/keygate at that version
// as `go install` does. keygate's modules come only from the local
// proxy; the others from the module cache (or the configured proxy),
// checked against the repository's go.sum files. The version is the one
// the repository's go.mod files name, or $KEYGATE_RELEASE_VERSION.
func TestGoGetFromProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("builds modules with the go command")
	}
	goEnv := func(name string) string {
		out, err := exec.Command("go", "env", name).Output()
		if err != nil {
			t.Fatalf("go env %s: %v", name, err)
		}
		return strings.TrimSpace(string(out))
	}
	realCache, configured := goEnv("GOMODCACHE"), goEnv("GOPROXY")

	mods, err := loadModules(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	version, err := devVersion(mods)
	if err != nil {
		t.Fatal(err)
	}
	// scripts/release.sh tests the version it is about to release.
	if v := os.Getenv("KEYGATE_RELEASE_VERSION"); v != "" {
		if err := checkVersion(v); err != nil {
			t.Fatal(err)
		}
		version = v
	}

	// A copy of the working tree (what Git would commit: tracked and
	// untracked files, not ignored ones), its go.mod files as released.
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	copyWorkingTree(t, repoRoot, src)
	mods, err = loadModules(src)
	if err != nil {
		t.Fatal(err)
	}
	released, err := rewrite(mods, version, false)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range released {
		if err := os.WriteFile(filepath.Join(src, filepath.FromSlash(name)), data, 0o666); err != nil {
			t.Fatal(err)
		}
	}

	proxy := filepath.Join(tmp, "proxy")
	var sums []string
	for _, m := range mods {
		dir := filepath.Join(src, filepath.FromSlash(m.Dir))
		publish(t, proxy, dir, module.Version{Path: m.Path, Version: version})
		if data, err := os.ReadFile(filepath.Join(dir, "go.sum")); err == nil {
			sums = append(sums, strings.Split(strings.TrimSpace(string(data)), "\n")...)
		}
	}
	slices.Sort(sums)
	sums = slices.Compact(sums)

	goproxy := "file://" + filepath.ToSlash(proxy)
	if dl := filepath.Join(realCache, "cache", "download"); realCache != "" {
		if _, err := os.Stat(dl); err == nil {
			goproxy += ",file://" + filepath.ToSlash(dl)
		}
	}
	if configured != "" && configured != "off" {
		goproxy += "," + configured
	}
	env := append(os.Environ(),
		"GOPROXY="+goproxy,
		"GOMODCACHE="+filepath.Join(tmp, "modcache"),
		// -trimpath keeps the temporary module cache's directory out of
		// the build cache's keys, so that the next run reuses this one's
		// compiled packages.
		"GOFLAGS=-mod=mod -modcacherw -trimpath",
		// Not GOPRIVATE: it would fetch keygate's modules from GitHub.
		"GOPRIVATE=",
		"GONOPROXY=",
		"GONOSUMDB="+rootPath,
		"GOSUMDB=off",
		"GOWORK=off",
		"GOTOOLCHAIN=local",
		"GOBIN="+filepath.Join(tmp, "bin"),
	)
	gocmd := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = env
		start := time.Now()
		out, err := cmd.CombinedOutput()
		t.Logf("go %s: %v", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	user := filepath.Join(tmp, "user")
	write(t, filepath.Join(user, "go.mod"), "module example.com/user\n\ngo 1.25.0\n")
	write(t, filepath.Join(user, "go.sum"), strings.Join(sums, "\n")+"\n")
	write(t, filepath.Join(user, "main.go"), userProgram)
	gocmd(user, "get", rootPath+"@"+version, rootPath+"/sqlite@"+version)
	gomod, err := os.ReadFile(filepath.Join(user, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.Parse("go.mod", gomod, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Replace) != 0 {
		t.Fatalf("the user's go.mod has replace directives:\n%s", gomod)
	}
	for _, want := range []string{rootPath, rootPath + "/sqlite", rootPath + "/sqlstore"} {
		if !slices.ContainsFunc(f.Require, func(r *modfile.Require) bool {
			return r.Mod.Path == want && r.Mod.Version == version
		}) {
			t.Errorf("the user's go.mod does not require %s %s:\n%s", want, version, gomod)
		}
	}
	gocmd(user, "build", "-o", filepath.Join(tmp, "user.bin"), ".")
	out, err := exec.Command(filepath.Join(tmp, "user.bin"), filepath.Join(tmp, "user.db")).CombinedOutput()
	if got, want := strings.TrimSpace(string(out)), "acct_release Release test"; err != nil || got != want {
		t.Errorf("the program: %q, %v; want %q", got, err, want)
	}

	// `go install module@version` refuses a module whose go.mod has
	// replace directives: the released cmd/keygate must have none.
	gocmd(user, "install", rootPath+"/cmd/keygate@"+version)
	if _, err := os.Stat(filepath.Join(tmp, "bin", "keygate")); err != nil {
		t.Errorf("go install cmd/keygate: %v", err)
	}
}

// userProgram is the throwaway module's program: it creates an account
// in a SQLite file and reads it back.
const userProgram = `package main

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/keygate/keygate/account"
	"github.com/keygate/keygate/sqlite"
)

func main() {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	accounts, err := account.NewManager(account.Config{Store: db.Accounts()})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := accounts.Create(ctx, account.CreateParams{ID: "acct_release", Name: "Release test"}); err != nil {
		log.Fatal(err)
	}
	a, err := accounts.Get(ctx, "acct_release")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(a.ID, a.Name)
}
`

// copyWorkingTree copies the files of the Git working tree at root that
// a commit would hold (tracked and untracked files, not ignored ones) to
// dst.
func copyWorkingTree(t *testing.T, root, dst string) {
	t.Helper()
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	for name := range strings.SplitSeq(strings.TrimSuffix(string(out), "\x00"), "\x00") {
		from := filepath.Join(root, filepath.FromSlash(name))
		info, err := os.Lstat(from)
		if os.IsNotExist(err) {
			continue // deleted, not yet committed
		}
		if err != nil {
			t.Fatal(err)
		}
		if !info.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		to := filepath.Join(dst, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(to), 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, data, info.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}

// publish adds the module in dir at version m to the file-based module
// proxy at proxy: its zip (as the go command makes it: without nested
// modules), go.mod, .info and list files.
func publish(t *testing.T, proxy, dir string, m module.Version) {
	t.Helper()
	escaped, err := module.EscapePath(m.Path)
	if err != nil {
		t.Fatal(err)
	}
	at := filepath.Join(proxy, filepath.FromSlash(escaped), "@v")
	if err := os.MkdirAll(at, 0o777); err != nil {
		t.Fatal(err)
	}
	var z bytes.Buffer
	if err := zip.CreateFromDir(&z, m, dir); err != nil {
		t.Fatalf("zip %s: %v", m, err)
	}
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{m.Version, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(at, m.Version+".zip"), z.String())
	write(t, filepath.Join(at, m.Version+".mod"), string(gomod))
	write(t, filepath.Join(at, m.Version+".info"), string(info))
	write(t, filepath.Join(at, "list"), m.Version+"\n")
}

func write(t *testing.T, name, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(data), 0o666); err != nil {
		t.Fatal(err)
	}
}

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
	// not: the script, and the tool it builds from this module (whose
	// files the clone holds are replaced, so that a deleted one goes).
	if err := os.RemoveAll(filepath.Join(repo, "internal", "release")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(repo, "internal", "release"), 0o755); err != nil {
		t.Fatal(err)
	}
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
