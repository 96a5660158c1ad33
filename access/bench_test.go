package access_test

import (
	"testing"

	"github.com/keygate/keygate/access"
	"github.com/keygate/keygate/internal/testpackages"
)

// benchGrants is a realistic key: a role and a few direct permissions,
// the one that matches last.
var benchGrants = access.MustNewGrants(
	[]string{"stores:read:store_42", "chat:read", "catalog:read", "offers:write"},
	[]string{"viewer"}, roles)

var sink bool

// BenchmarkGrantsAllows measures a match on the last of six grants and a
// refusal after all of them.
func BenchmarkGrantsAllows(b *testing.B) {
	yes := access.MustParsePermission("offers:write")
	no := access.MustParsePermission("analytics:export")
	b.Run("allowed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink = benchGrants.Allows(yes)
		}
	})
	b.Run("refused", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink = benchGrants.Allows(no)
		}
	})
}

// BenchmarkPackagesAllows measures a PRIME package's cumulative permissions
// (15, the required one last) and a package comparison.
func BenchmarkPackagesAllows(b *testing.B) {
	packages := testpackages.Retail()
	p := access.MustParsePermission("analytics:export")
	b.Run("allows", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink = packages.Allows("PRIME", p)
		}
	})
	b.Run("reaches", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink = packages.Reaches("GO", "GROW")
		}
	})
}

// BenchmarkCheck measures a route's compiled requirement: package, then the
// permission with the request's entity.
func BenchmarkCheck(b *testing.B) {
	req := access.MustParseRequirement("stores:read:{entity}", "GO", testpackages.Retail())
	b.ReportAllocs()
	for b.Loop() {
		if err := req.Check("GROW", benchGrants, "store_42"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewGrants measures expanding a token's claims, done once per
// verified credential.
func BenchmarkNewGrants(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := access.NewGrants([]string{"stores:read:store_42", "offers:write"}, []string{"viewer", "merchant"}, roles); err != nil {
			b.Fatal(err)
		}
	}
}
