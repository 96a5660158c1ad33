package access_test

import (
	"errors"
	"fmt"

	"github.com/keygate/keygate/access"
)

// Parsing is strict: case matters and every part must be there.
func ExampleParsePermission() {
	p, err := access.ParsePermission("stores:read:store_42")
	fmt.Println(p.Module, p.Action, p.Entity, err)

	_, err = access.ParsePermission("Admin:read")
	fmt.Println(errors.Is(err, access.ErrMalformedPermission))
	// Output:
	// stores read store_42 <nil>
	// true
}

// Wildcards and entities: a grant without an entity covers every entity.
func ExamplePermission_Covers() {
	p := access.MustParsePermission
	fmt.Println(p("products:*").Covers(p("products:write")))
	fmt.Println(p("stores:read").Covers(p("stores:read:store_42")))
	fmt.Println(p("stores:read:store_42").Covers(p("stores:read:store_43")))
	fmt.Println(p("stores:read:store_42").Covers(p("stores:read"))) // not the list of every store
	fmt.Println(p("*:*").Covers(p("offers:*")))                     // required permissions are concrete
	// Output:
	// true
	// true
	// false
	// false
	// false
}

// A key's roles and permissions, expanded once; an unknown role or a
// malformed claim grants nothing.
func ExampleNewGrants() {
	defs := access.Roles{
		"viewer":   {"stores:read", "products:read"},
		"merchant": {"products:*", "offers:write"},
	}
	g, err := access.NewGrants([]string{"chat:write"}, []string{"viewer"}, defs)
	fmt.Println(err, g.Permissions())
	fmt.Println(g.Allows(access.MustParsePermission("products:read")))
	fmt.Println(g.Allows(access.MustParsePermission("offers:write")))

	_, err = access.NewGrants(nil, []string{"Merchant"}, defs)
	fmt.Println(errors.Is(err, access.ErrUnknownRole))
	// Output:
	// <nil> [chat:write stores:read products:read]
	// true
	// false
	// true
}

// A retail product's packages: each includes everything below it.
func ExampleRetailTiers() {
	tiers := access.RetailTiers()
	fmt.Println(tiers.Names())
	fmt.Println(tiers.Reaches("GO", "ASSIST"), tiers.Reaches("GO", "GROW"))
	fmt.Println(tiers.Allows("GO", access.MustParsePermission("offers:write")))
	fmt.Println(tiers.Allows("GO", access.MustParsePermission("checkout:start")))
	min, _ := tiers.MinTier(access.MustParsePermission("analytics:export"))
	fmt.Println(min)
	// Output:
	// [DISCOVER ASSIST GO GROW PRIME]
	// true false
	// true
	// false
	// PRIME
}

// A route's requirement, compiled at start-up and checked per request with
// the key's package, its grants and the request's entity.
func ExampleParseRequirement() {
	tiers := access.RetailTiers()
	offers := access.MustParseRequirement("offers:write", access.TierGo, tiers)
	store := access.MustParseRequirement("stores:read:{entity}", access.TierDiscover, tiers)

	key := access.MustNewGrants([]string{"offers:write", "stores:read:store_42"}, nil, nil)
	fmt.Println(offers.Check("GO", key, ""))
	fmt.Println(offers.Check("ASSIST", key, ""))
	fmt.Println(store.Check("GO", key, "store_42")) // e.g. r.PathValue("store")
	err := store.Check("GO", key, "store_7")
	var fe *access.ForbiddenError
	if errors.As(err, &fe) {
		fmt.Println(403, fe.Reason(), "-", fe.Detail())
	}
	// Output:
	// <nil>
	// access: forbidden (insufficient_scope): package below the required tier
	// <nil>
	// 403 insufficient_scope - permission not granted
}

// What credentials hold with their package: a standard key (no
// permissions of its own) its package's, a restricted key its own bounded
// by the package, and an operator key its package and admin:*.
func ExampleTiers_Effective() {
	tiers := access.RetailTiers()
	export := access.MustParsePermission("analytics:export")
	adminRead := access.MustParsePermission("admin:read")

	standard := tiers.ForCredential("PRIME", nil, nil)
	fmt.Println(standard.Allows(export), standard.Allows(adminRead))

	restricted := tiers.ForCredential("GO", []string{"analytics:export", "offers:write"}, nil)
	fmt.Println(restricted.Allows(export), restricted.Permissions())

	operator := tiers.Effective("GO", access.MustNewGrants([]string{"*:*"}, nil, nil), false)
	fmt.Println(operator.Allows(export), operator.Allows(adminRead))
	// Output:
	// true false
	// false [offers:write]
	// false true
}
