package access_test

import (
	"errors"
	"testing"

	"github.com/keygate/keygate/access"
	"github.com/keygate/keygate/internal/testpackages"
)

// FuzzParseRequirement: any permission and package give a compiled
// requirement or an error wrapping one of the package's sentinels (never a
// panic); a compiled one remembers exactly what it was compiled from, and
// compiling the same input again gives the same answer.
func FuzzParseRequirement(f *testing.F) {
	f.Add("products:read", "GO")
	f.Add("stores:write:{entity}", "")
	f.Add("", "PRIME")
	f.Add("a:*", "")
	f.Add("a:b:c:d", "NOPE")
	packages := testpackages.Retail()
	f.Fuzz(func(t *testing.T, perm, pkg string) {
		c, err := access.ParseRequirement(perm, pkg, packages)
		if err != nil {
			if !errors.Is(err, access.ErrInvalidConfig) && !errors.Is(err, access.ErrMalformedPermission) && !errors.Is(err, access.ErrUnknownPackage) {
				t.Fatalf("error %v wraps none of the package's sentinels", err)
			}
			if _, err2 := access.ParseRequirement(perm, pkg, packages); err2 == nil {
				t.Fatal("the same input compiled on the second try")
			}
			return
		}
		if got := c.Requirement(); got.Permission != perm || got.Package != pkg {
			t.Fatalf("compiled from (%q, %q), remembers %+v", perm, pkg, got)
		}
		if c.String() == "" {
			t.Fatal("empty String for a compiled requirement")
		}
		if pkg != "" && !packages.Has(pkg) {
			t.Fatalf("unknown package %q accepted", pkg)
		}
		if _, err := access.ParseRequirement(perm, pkg, packages); err != nil {
			t.Fatalf("the same input failed on the second try: %v", err)
		}
	})
}
