package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// rootPath is the module path of the repository's root module; every
// released module's path starts with it.
const rootPath = "github.com/keygate/keygate"

// A mod is one released module of the repository.
type mod struct {
	// Dir is the module's directory, relative to the repository root,
	// with forward slashes: "." for the root module.
	Dir string
	// Path is the module path.
	Path string
	// File is the parsed go.mod file.
	File *modfile.File
}

// Tag returns the name of the Git tag that releases m at version: the
// version itself for the root module, prefixed with the module's
// directory for a nested one ("sqlstore/v0.1.0"), as the go command
// expects.
func (m mod) Tag(version string) string {
	if m.Dir == "." {
		return version
	}
	return m.Dir + "/" + version
}

// unreleased are the directories (relative, with forward slashes) whose
// modules, and those under them, are not released: the repository's
// tooling under internal/, and bench/, whose benchmarks compare keygate
// with other libraries (it builds from the repository's sources only).
var unreleased = []string{"internal", "bench"}

// released reports whether the module in directory dir (relative, with
// forward slashes) is released: every module outside the unreleased
// directories.
func released(dir string) bool {
	return !slices.ContainsFunc(unreleased, func(u string) bool {
		return dir == u || strings.HasPrefix(dir, u+"/")
	})
}

// loadModules returns the released modules of the repository at root,
// every directory with a go.mod outside vendor, testdata and .git
// directories, sorted so that each module comes after the modules it
// requires: the order their tags must be created in.
func loadModules(root string) ([]mod, error) {
	var mods []mod
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "vendor", "testdata":
				return filepath.SkipDir
			}
			return nil
		}
		if d.Name() != "go.mod" {
			return nil
		}
		rel, err := filepath.Rel(root, filepath.Dir(p))
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !released(rel) {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		f, err := modfile.Parse(p, data, nil)
		if err != nil {
			return err
		}
		if f.Module == nil {
			return fmt.Errorf("%s: no module directive", p)
		}
		want := rootPath
		if rel != "." {
			want = rootPath + "/" + rel
		}
		if f.Module.Mod.Path != want {
			return fmt.Errorf("%s: module %s, want %s (the path must match the directory for its tags to work)", p, f.Module.Mod.Path, want)
		}
		mods = append(mods, mod{Dir: rel, Path: want, File: f})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(mods, func(m mod) bool { return m.Dir == "." }) {
		return nil, fmt.Errorf("%s: no root module", root)
	}
	return sortModules(mods)
}

// sortModules sorts mods in dependency order: each module after the
// repository's modules it requires, ties by directory. It fails on a
// cycle.
func sortModules(mods []mod) ([]mod, error) {
	slices.SortFunc(mods, func(a, b mod) int { return strings.Compare(a.Dir, b.Dir) })
	byPath := make(map[string]mod, len(mods))
	for _, m := range mods {
		byPath[m.Path] = m
	}
	const (
		visiting = 1
		done     = 2
	)
	state := make(map[string]int, len(mods))
	sorted := make([]mod, 0, len(mods))
	var visit func(m mod) error
	visit = func(m mod) error {
		switch state[m.Path] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("the modules require each other in a cycle through %s", m.Path)
		}
		state[m.Path] = visiting
		for _, r := range m.File.Require {
			if dep, ok := byPath[r.Mod.Path]; ok {
				if err := visit(dep); err != nil {
					return err
				}
			}
		}
		state[m.Path] = done
		sorted = append(sorted, m)
		return nil
	}
	for _, m := range mods {
		if err := visit(m); err != nil {
			return nil, err
		}
	}
	return sorted, nil
}

// checkVersion returns an error unless version can be released: a
// canonical semantic version (such as v0.1.0 or v1.2.0-rc.1, no build
// metadata), of major version 0 or 1 (v2 and later need "/v2" module
// paths), and not a pseudo-version.
func checkVersion(version string) error {
	switch {
	case !semver.IsValid(version) || semver.Canonical(version) != version:
		return fmt.Errorf("version %q: not a canonical semantic version such as v0.1.0", version)
	case semver.Major(version) != "v0" && semver.Major(version) != "v1":
		return fmt.Errorf("version %s: major version %s needs module paths ending in /%s", version, semver.Major(version), semver.Major(version))
	case module.IsPseudoVersion(version):
		return fmt.Errorf("version %s: a pseudo-version, not a release", version)
	}
	return nil
}

// rewrite sets, in every nested module of mods, each requirement on
// another module of mods to version. With dev false (the released
// go.mod files) it drops their replace directives, which dependents
// ignore and `go install module@version` refuses; with dev true (in-repo
// development) it keeps them and adds any missing one, so that each
// module builds alone (GOWORK=off) from the repository's sources. It
// edits the parsed files of mods and returns the go.mod files that
// changed (their names relative to the repository root), formatted.
func rewrite(mods []mod, version string, dev bool) (map[string][]byte, error) {
	if err := checkVersion(version); err != nil {
		return nil, err
	}
	byPath := make(map[string]mod, len(mods))
	for _, m := range mods {
		byPath[m.Path] = m
	}
	changed := make(map[string][]byte)
	for _, m := range mods {
		before, err := m.File.Format()
		if err != nil {
			return nil, err
		}
		f := m.File
		for _, r := range slices.Clone(f.Require) {
			if _, ok := byPath[r.Mod.Path]; ok && r.Mod.Version != version {
				if err := f.AddRequire(r.Mod.Path, version); err != nil {
					return nil, err
				}
			}
		}
		for _, r := range slices.Clone(f.Replace) {
			if _, ok := byPath[r.Old.Path]; ok && !dev {
				if err := f.DropReplace(r.Old.Path, r.Old.Version); err != nil {
					return nil, err
				}
			}
		}
		if dev {
			for _, r := range f.Require {
				dep, ok := byPath[r.Mod.Path]
				if !ok || slices.ContainsFunc(f.Replace, func(rep *modfile.Replace) bool { return rep.Old.Path == r.Mod.Path }) {
					continue
				}
				rel, err := filepath.Rel(filepath.FromSlash(m.Dir), filepath.FromSlash(dep.Dir))
				if err != nil {
					return nil, err
				}
				rel = filepath.ToSlash(rel)
				if !strings.HasPrefix(rel, ".") {
					rel = "./" + rel
				}
				if err := f.AddReplace(r.Mod.Path, "", rel, ""); err != nil {
					return nil, err
				}
			}
		}
		f.Cleanup()
		after, err := f.Format()
		if err != nil {
			return nil, err
		}
		if string(after) != string(before) {
			changed[path.Join(m.Dir, "go.mod")] = after
		}
	}
	return changed, nil
}

// devVersion returns the version at which the nested modules of mods
// require the repository's modules, and an error unless they all name
// the same one, a release version (see checkVersion), with a replace
// directive to the module's directory for in-repo builds.
func devVersion(mods []mod) (string, error) {
	byPath := make(map[string]mod, len(mods))
	for _, m := range mods {
		byPath[m.Path] = m
	}
	var version string
	var errs []error
	for _, m := range mods {
		for _, r := range m.File.Require {
			dep, ok := byPath[r.Mod.Path]
			if !ok {
				continue
			}
			if version == "" {
				version = r.Mod.Version
			}
			if r.Mod.Version != version {
				errs = append(errs, fmt.Errorf("%s requires %s %s, others %s: one version for all modules", m.Path, r.Mod.Path, r.Mod.Version, version))
			}
			i := slices.IndexFunc(m.File.Replace, func(rep *modfile.Replace) bool { return rep.Old.Path == r.Mod.Path })
			if i < 0 {
				errs = append(errs, fmt.Errorf("%s requires %s without a replace directive to its directory", m.Path, r.Mod.Path))
				continue
			}
			rep := m.File.Replace[i]
			if got, want := path.Join(m.Dir, rep.New.Path), dep.Dir; rep.New.Version != "" || got != want {
				errs = append(errs, fmt.Errorf("%s replaces %s with %s, want the directory %s", m.Path, r.Mod.Path, rep.New, want))
			}
		}
	}
	if version == "" {
		errs = append(errs, errors.New("no module requires another of the repository"))
	} else if err := checkVersion(version); err != nil {
		errs = append(errs, err)
	}
	return version, errors.Join(errs...)
}
