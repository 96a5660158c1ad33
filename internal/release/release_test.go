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
