package keygate_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/keygate/keygate"
)

// An authenticating middleware stores the caller with NewContext; a handler
// behind it reads it back with FromContext.
func ExampleFromContext() {
	ctx := keygate.NewContext(context.Background(), keygate.Principal{
		Method:  keygate.MethodAPIKey,
		KeyID:   "key_123",
		Account: "acct_42",
		Mode:    keygate.ModeTest,
		Kind:    keygate.KindSecret,
	})

	if p, ok := keygate.FromContext(ctx); ok {
		fmt.Println(p.Account, p.Mode, p.Method)
	}
	_, ok := keygate.FromContext(context.Background())
	fmt.Println(ok)
	// Output:
	// acct_42 test api_key
	// false
}

// The actor of a management action is the one named by WithActor, else the
// authenticated caller's key ID.
// A middleware hands the next handler a request that carries the caller;
// a test can build one the same way.
func ExampleWithPrincipal() {
	r := httptest.NewRequest(http.MethodGet, "/v1/orders", nil)
	r = keygate.WithPrincipal(r, keygate.Principal{Method: keygate.MethodAPIKey, Account: "acct_42", Stores: []string{"store_1"}})
	p, ok := keygate.FromContext(r.Context())
	fmt.Println(ok, p.Account, p.Stores)
	// Output: true acct_42 [store_1]
}

func ExampleActorFromContext() {
	ctx := keygate.NewContext(context.Background(), keygate.Principal{KeyID: "key_admin"})
	fmt.Println(keygate.ActorFromContext(ctx))
	fmt.Println(keygate.ActorFromContext(keygate.WithActor(ctx, "keygate init")))
	fmt.Printf("%q\n", keygate.ActorFromContext(context.Background()))
	// Output:
	// key_admin
	// keygate init
	// ""
}

// MultiChangeFunc fans one management action out to several receivers,
// skipping nil ones: an audit log and a cache invalidation, say.
func ExampleMultiChangeFunc() {
	audit := func(_ context.Context, c keygate.Change) {
		fmt.Println("audit:", c.Action, c.KeyID, c.Actor)
	}
	invalidate := func(_ context.Context, c keygate.Change) {
		fmt.Println("invalidate:", c.KeyID)
	}
	var metrics keygate.ChangeFunc // not configured

	report := keygate.MultiChangeFunc(audit, metrics, invalidate)
	ctx := keygate.WithActor(context.Background(), "ops@example.com")
	report(ctx, keygate.Change{
		Action: keygate.ActionKeyRevoked,
		KeyID:  "key_123",
		Actor:  keygate.ActorFromContext(ctx),
	})
	fmt.Println(keygate.MultiChangeFunc(nil, nil) == nil)
	// Output:
	// audit: key.revoked key_123 ops@example.com
	// invalidate: key_123
	// true
}

// A Grant is what a credential may do and where from. Credentials embed
// it, and CloneGrant gives a copy to change without touching the original,
// whose slices a store may share.
func ExampleGrant() {
	g := keygate.Grant{
		Account:          "acct_42",
		Mode:             keygate.ModeLive,
		Package:          "GO",
		Permissions:      []string{"products:read"},
		Stores:           []string{"store_1"},
		AllowedIPs:       []string{"192.0.2.0/24"},
		DeniedCountries:  []string{"KP"},
		AllowedCountries: nil, // any country not denied
	}
	narrower := keygate.CloneGrant(g)
	narrower.Permissions[0] = "orders:read"
	narrower.AllowedIPs = append(narrower.AllowedIPs, "198.51.100.7")

	fmt.Println(g.Account, g.Mode, g.Package, g.Permissions, g.AllowedIPs)
	fmt.Println(narrower.Permissions, narrower.AllowedIPs, narrower.AllowedCountries == nil)
	// Output:
	// acct_42 live GO [products:read] [192.0.2.0/24]
	// [orders:read] [192.0.2.0/24 198.51.100.7] true
}
