// Package listtest holds the List checks that the store conformance suites
// of packages apikey/apikeytest and httpsig/httpsigtest share: paging through a
// filter, and checking that a suite catches deliberately broken stores.
package listtest

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Pages pages through list from the filter base with every page size from
// 1 to len(want)+1 and fails t unless every page but the last is full and
// the pages hold exactly the IDs want, in order. limit returns a filter
// with its limit set; after returns a filter positioned after the item it
// is given; noun names the items in messages ("records").
func Pages[F, R any](t testing.TB, base F, want []string, noun string,
	list func(F) []R, limit func(F, int) F, after func(F, R) F, id func(R) string) {
	t.Helper()
	for n := 1; n <= len(want)+1; n++ {
		f := limit(base, n)
		var got []string
		for pages := 0; ; pages++ {
			if pages > len(want)+1 {
				t.Fatalf("%+v: more than %d pages", f, len(want)+1)
			}
			page := list(f)
			if w := min(n, len(want)-len(got)); len(page) != w {
				t.Fatalf("%+v, page %d: %d %s, want %d", f, pages, len(page), noun, w)
			}
			if len(page) == 0 {
				break
			}
			for _, r := range page {
				got = append(got, id(r))
			}
			f = after(f, page[len(page)-1])
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%+v: the pages hold %v, want %v: all %s, each once, in order", base, got, want, noun)
		}
	}
}

// CatchesBugs checks that a conformance suite catches broken stores. In
// the parent test it runs t's test again, in a child process per bug with
// the bug's name in the environment variable env, and fails unless the
// suite fails there with the subtest failed(bug) among its failures. In
// the child (env set) it calls suite with the bug named by env instead.
func CatchesBugs[B any](t *testing.T, env string, bugs map[string]B, failed func(B) string, suite func(B)) {
	if name := os.Getenv(env); name != "" {
		suite(bugs[name])
		return
	}
	if testing.Short() {
		t.Skip("runs the suite in child processes")
	}
	for name, b := range bugs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			top, _, _ := strings.Cut(t.Name(), "/")
			cmd := exec.Command(os.Args[0], "-test.run=^"+top+"$", "-test.count=1")
			cmd.Env = append(os.Environ(), env+"="+name)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a store that %s", name)
			}
			if want := "--- FAIL: " + top + "/" + failed(b); !strings.Contains(string(out), want) {
				t.Fatalf("a store that %s: want %q in the output:\n%s", name, want, out)
			}
		})
	}
}
