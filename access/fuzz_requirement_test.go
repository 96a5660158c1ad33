package access_test

import (
	"errors"
	"testing"

	"github.com/keygate/keygate/access"
)

// FuzzParseRequirement: any permission and tier give a compiled
// requirement or an error wrapping one of the package's sentinels (never a
// panic); a compiled one remembers exactly what it was compiled from, and
// compiling the same input again gives the same answer.
func FuzzParseRequirement(f *testing.F) {
	f.Add("products:read", "GO")
	f.Add("stores:write:{entity}", "")
	f.Add("", "PRIME")
	f.Add("a:*", "")
	f.Add("a:b:c:d", "NOPE")
	tiers := access.RetailTiers()
	f.Fuzz(func(t *testing.T, perm, tier string) {
		c, err := access.ParseRequirement(perm, tier, tiers)
		if err != nil {
			if !errors.Is(err, access.ErrInvalidConfig) && !errors.Is(err, access.ErrMalformedPermission) && !errors.Is(err, access.ErrUnknownTier) {
				t.Fatalf("error %v wraps none of the package's sentinels", err)
			}
			if _, err2 := access.ParseRequirement(perm, tier, tiers); err2 == nil {
				t.Fatal("the same input compiled on the second try")
			}
			return
		}
		if got := c.Requirement(); got.Permission != perm || got.Tier != tier {
			t.Fatalf("compiled from (%q, %q), remembers %+v", perm, tier, got)
		}
		if c.String() == "" {
			t.Fatal("empty String for a compiled requirement")
		}
		if tier != "" && !tiers.Has(tier) {
			t.Fatalf("unknown tier %q accepted", tier)
		}
		if _, err := access.ParseRequirement(perm, tier, tiers); err != nil {
			t.Fatalf("the same input failed on the second try: %v", err)
		}
	})
}
