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

// A service's packages, lowest first: each includes everything below it.
func ExampleNewPackages() {
	packages, err := access.NewPackages([]access.Package{
		{Name: "free", Permissions: []string{"products:read", "stores:read"}},
		{Name: "pro", Permissions: []string{"products:write", "offers:write"}},
		{Name: "enterprise", Permissions: []string{"analytics:export"}},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(packages.Names())
	fmt.Println(packages.Reaches("pro", "free"), packages.Reaches("pro", "enterprise"))
	fmt.Println(packages.Allows("pro", access.MustParsePermission("products:read")))
	fmt.Println(packages.Allows("pro", access.MustParsePermission("analytics:export")))
	lowest, _ := packages.MinPackage(access.MustParsePermission("offers:write"))
	fmt.Println(lowest)
	// Output:
	// [free pro enterprise]
	// true false
	// true
	// false
	// pro
}

// A route's requirement, compiled at start-up and checked per request with
// the key's package, its grants and the request's entity.
func ExampleParseRequirement() {
	packages, err := access.NewPackages([]access.Package{
		{Name: "free", Permissions: []string{"stores:read"}},
		{Name: "pro", Permissions: []string{"offers:write"}},
	})
	if err != nil {
		panic(err)
	}
	offers := access.MustParseRequirement("offers:write", "pro", packages)
	store := access.MustParseRequirement("stores:read:{entity}", "free", packages)

	key := access.MustNewGrants([]string{"offers:write", "stores:read:store_42"}, nil, nil)
	fmt.Println(offers.Check("pro", key, ""))
	fmt.Println(offers.Check("free", key, ""))
	fmt.Println(store.Check("pro", key, "store_42")) // e.g. r.PathValue("store")
	err = store.Check("pro", key, "store_7")
	var fe *access.ForbiddenError
	if errors.As(err, &fe) {
		fmt.Println(403, fe.Reason(), "-", fe.Detail())
	}
	// Output:
	// <nil>
	// access: forbidden (insufficient_scope): package below the required minimum
	// <nil>
	// 403 insufficient_scope - permission not granted
}

// What credentials hold with their package: a standard key (no
// permissions of its own) its package's, a restricted key its own bounded
// by the package, and an operator key its package and admin:*.
func ExamplePackages_Effective() {
	packages, err := access.NewPackages([]access.Package{
		{Name: "free", Permissions: []string{"stores:read"}},
		{Name: "pro", Permissions: []string{"offers:write"}},
		{Name: "enterprise", Permissions: []string{"analytics:export"}},
	})
	if err != nil {
		panic(err)
	}
	export := access.MustParsePermission("analytics:export")
	adminRead := access.MustParsePermission("admin:read")

	standard := packages.ForCredential("enterprise", nil, nil)
	fmt.Println(standard.Allows(export), standard.Allows(adminRead))

	restricted := packages.ForCredential("pro", []string{"analytics:export", "offers:write"}, nil)
	fmt.Println(restricted.Allows(export), restricted.Permissions())

	operator := packages.Effective("pro", access.MustNewGrants([]string{"*:*"}, nil, nil), false)
	fmt.Println(operator.Allows(export), operator.Allows(adminRead))
	// Output:
	// true false
	// false [offers:write]
	// false true
}
