// Command release does the go.mod side of a keygate release, for
// scripts/release.sh: every module of the repository is released at one
// version, nested modules requiring the root and each other at that
// version, and tagged in dependency order.
//
// Usage:
//
//	release [-root DIR] tags VERSION          # the tags to create, in order
//	release [-root DIR] rewrite VERSION       # go.mod files as released
//	release [-root DIR] rewrite -dev VERSION  # the same, with the replace directives for in-repo builds
//	release [-root DIR] check                 # the version the go.mod files name, or why they are wrong
//
// The released go.mod files have no replace directives (dependents
// ignore them, and `go install module@version` refuses a module with
// one). Between releases the nested modules require the last (or the
// next) release and replace it with the repository's directories, so
// that each builds alone (GOWORK=off) from the working tree.
//
// The module is apart from the library so that golang.org/x/mod, which
// its test needs to build a module proxy, is no dependency of keygate.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	root := fs.String("root", ".", "the repository's root `directory`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	args = fs.Args()
	if len(args) == 0 {
		return fmt.Errorf("usage: release [-root DIR] tags|rewrite|check [ARGS]")
	}
	mods, err := loadModules(*root)
	if err != nil {
		return err
	}
	switch cmd, args := args[0], args[1:]; cmd {
	case "tags":
		if len(args) != 1 {
			return fmt.Errorf("usage: release tags VERSION")
		}
		if err := checkVersion(args[0]); err != nil {
			return err
		}
		for _, m := range mods {
			fmt.Println(m.Tag(args[0]))
		}
		return nil
	case "rewrite":
		rfs := flag.NewFlagSet("rewrite", flag.ContinueOnError)
		dev := rfs.Bool("dev", false, "keep (and add) the replace directives for in-repo builds")
		if err := rfs.Parse(args); err != nil {
			return err
		}
		if rfs.NArg() != 1 {
			return fmt.Errorf("usage: release rewrite [-dev] VERSION")
		}
		changed, err := rewrite(mods, rfs.Arg(0), *dev)
		if err != nil {
			return err
		}
		names := make([]string, 0, len(changed))
		for name := range changed {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			if err := os.WriteFile(filepath.Join(*root, filepath.FromSlash(name)), changed[name], 0o666); err != nil {
				return err
			}
			fmt.Println(name)
		}
		return nil
	case "check":
		if len(args) != 0 {
			return fmt.Errorf("usage: release check")
		}
		v, err := devVersion(mods)
		if err != nil {
			return err
		}
		fmt.Println(v)
		return nil
	default:
		return fmt.Errorf("unknown command %q (tags, rewrite, check)", cmd)
	}
}
