package access

import (
	"fmt"
	"slices"
)

// AdminModule is the module reserved for the operator permissions
// (admin:read, admin:write, admin:review, ...). No package ever includes a
// permission of this module: [NewTiers] refuses a tier that names one, and
// [Tiers.Allows] answers false for one even when a tier grants the "*"
// module. So a credential holds an admin permission only through its own
// explicit grants (see [Tiers.Effective]), never through its package.
const AdminModule = "admin"

// Tier is one package tier: its name and the permissions it adds to the
// tiers before it.
type Tier struct {
	// Name is 1 to 64 characters of A-Z, a-z, 0-9, '_', '-', compared
	// exactly: a key's package is the name of a tier.
	Name string
	// Permissions are the permissions this tier adds; it also includes
	// everything the previous tiers grant. May be empty (a tier that
	// differs only in its rate limit, say). None may be of [AdminModule];
	// a "*" module covers every module but that one.
	Permissions []string
}

// Tiers is an ordered set of package tiers, each including everything the
// previous ones grant. Build one with [NewTiers]; it is immutable and safe
// for concurrent use. A nil *Tiers knows no tier.
type Tiers struct {
	names []string
	index map[string]int
	// cumulative[i] is everything tier i grants, its predecessors' included.
	cumulative []Grants
}

// NewTiers builds a tier set from the tiers in ascending order. It refuses
// an empty list, an invalid or repeated name, a malformed permission and a
// permission of [AdminModule], with an error wrapping [ErrInvalidConfig]
// (and [ErrMalformedPermission]).
func NewTiers(ordered []Tier) (*Tiers, error) {
	if len(ordered) == 0 {
		return nil, fmt.Errorf("%w: no tiers", ErrInvalidConfig)
	}
	t := &Tiers{index: make(map[string]int, len(ordered))}
	var acc []Permission
	for i, tier := range ordered {
		if !validTierName(tier.Name) {
			return nil, fmt.Errorf("%w: tier name %q must be 1 to 64 characters of A-Z, a-z, 0-9, '_', '-'", ErrInvalidConfig, clip(tier.Name))
		}
		if _, dup := t.index[tier.Name]; dup {
			return nil, fmt.Errorf("%w: tier %q defined twice", ErrInvalidConfig, tier.Name)
		}
		for _, s := range tier.Permissions {
			p, err := ParsePermission(s)
			if err != nil {
				return nil, fmt.Errorf("%w: tier %q: %w", ErrInvalidConfig, tier.Name, err)
			}
			if p.Module == AdminModule {
				return nil, fmt.Errorf("%w: tier %q: the module %q is reserved for operators, never in a package", ErrInvalidConfig, tier.Name, AdminModule)
			}
			if !slices.Contains(acc, p) {
				acc = append(acc, p)
			}
		}
		t.index[tier.Name] = i
		t.names = append(t.names, tier.Name)
		t.cumulative = append(t.cumulative, Grants{perms: slices.Clip(slices.Clone(acc))})
	}
	return t, nil
}

func validTierName(s string) bool {
	if s == "" || len(s) > MaxPartLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '.' || !entityByte[c] {
			return false
		}
	}
	return true
}

// Names returns the tier names in ascending order.
func (t *Tiers) Names() []string {
	if t == nil {
		return nil
	}
	return slices.Clone(t.names)
}

// Has reports whether tier is defined.
func (t *Tiers) Has(tier string) bool {
	_, ok := t.rank(tier)
	return ok
}

// rank returns the position of tier in the order.
func (t *Tiers) rank(tier string) (int, bool) {
	if t == nil {
		return 0, false
	}
	i, ok := t.index[tier]
	return i, ok
}

// Reaches reports whether the package pkg is at or above tier. An unknown
// package or tier reaches nothing. It allocates nothing.
func (t *Tiers) Reaches(pkg, tier string) bool {
	p, ok := t.rank(pkg)
	if !ok {
		return false
	}
	r, ok := t.rank(tier)
	return ok && p >= r
}

// Allows reports whether the package pkg includes the required permission,
// its own and every lower tier's permissions counted (see
// [Permission.Covers]). An unknown package allows nothing, and no package
// allows a permission of [AdminModule], not even through a "*" module. It
// allocates nothing.
func (t *Tiers) Allows(pkg string, required Permission) bool {
	p, ok := t.rank(pkg)
	return ok && required.Module != AdminModule && t.cumulative[p].Allows(required)
}

// Permissions returns everything the package pkg includes, lower tiers
// included, or nil for an unknown package.
func (t *Tiers) Permissions(pkg string) []string {
	p, ok := t.rank(pkg)
	if !ok {
		return nil
	}
	return t.cumulative[p].Permissions()
}

// MinTier returns the lowest tier that includes the required permission,
// so that a route table can derive a route's tier from its permission. It
// returns false when no tier includes it (always for [AdminModule]).
func (t *Tiers) MinTier(required Permission) (string, bool) {
	if t == nil || required.Module == AdminModule {
		return "", false
	}
	for i, g := range t.cumulative {
		if g.Allows(required) {
			return t.names[i], true
		}
	}
	return "", false
}

// The tiers of [RetailTiers].
const (
	TierDiscover = "DISCOVER"
	TierAssist   = "ASSIST"
	TierGo       = "GO"
	TierGrow     = "GROW"
	TierPrime    = "PRIME"
)

// RetailTiers returns the package tiers of a retail product, a ready
// example configuration for a retail API:
//
//	DISCOVER  stores:read, products:read, products:write, catalog:read,
//	          catalog:write, products:import (stores, products, catalog,
//	          bulk import)
//	ASSIST    + chat:read, chat:write (in-store chat)
//	GO        + offers:read, offers:write, clickcollect:write (offers,
//	          click & collect)
//	GROW      + checkout:start, checkout:confirm (scan & go checkout),
//	          sync:write (POS/ERP/PSP sync)
//	PRIME     + analytics:export (everything above and analytics export)
//
// PRIME adds analytics:export to the permissions of the tiers below it
// rather than "*:*", so that a permission the service adds later belongs to
// no tier until it is placed in one. Each call returns a new *Tiers.
func RetailTiers() *Tiers {
	t, err := NewTiers([]Tier{
		{Name: TierDiscover, Permissions: []string{
			"stores:read", "products:read", "products:write",
			"catalog:read", "catalog:write", "products:import",
		}},
		{Name: TierAssist, Permissions: []string{"chat:write", "chat:read"}},
		{Name: TierGo, Permissions: []string{"offers:write", "offers:read", "clickcollect:write"}},
		{Name: TierGrow, Permissions: []string{"checkout:start", "checkout:confirm", "sync:write"}},
		{Name: TierPrime, Permissions: []string{"analytics:export"}},
	})
	if err != nil {
		panic(err) // a constant configuration
	}
	return t
}
