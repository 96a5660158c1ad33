package middleware_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/access"
	"github.com/keygate/keygate/account"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/middleware"
)

// A service's packages (its commercial plans), lowest first, and a route
// that requires a minimum package: an account's package decides which
// routes its keys reach, and what a key without permissions of its own
// holds (here: its package's permissions).
func ExampleRule_package() {
	packages, err := access.NewPackages([]access.Package{
		{Name: "free", Permissions: []string{"orders:read"}},
		{Name: "pro", Permissions: []string{"reports:read"}},
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	accounts, _ := account.NewManager(account.Config{Packages: packages.Names()})
	keys, _ := apikey.NewManager(apikey.Config{})
	keyOf := func(id, pkg string) apikey.Key {
		if _, err := accounts.Create(ctx, account.CreateParams{ID: id, Name: id, Package: pkg}); err != nil {
			panic(err)
		}
		key, _, err := keys.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{Account: id, Mode: keygate.ModeTest}, Kind: keygate.KindSecret})
		if err != nil {
			panic(err)
		}
		return key
	}
	free, pro := keyOf("acct_free", "free"), keyOf("acct_pro", "pro")

	auth, err := middleware.New(middleware.Config{
		APIKeys: keys, Accounts: accounts,
		Access: middleware.AccessConfig{Packages: packages},
	})
	if err != nil {
		panic(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := keygate.FromContext(r.Context())
		fmt.Fprintf(w, "%s on %s", p.Account, p.Package)
	})
	mux := http.NewServeMux()
	auth.Mount(mux, []middleware.Route{
		{Pattern: "GET /v1/orders", Rule: middleware.Rule{Permission: "orders:read"}, Handler: ok},
		{Pattern: "GET /v1/reports", Rule: middleware.Rule{Permission: "reports:read"}, Handler: ok},
		{Pattern: "GET /v1/support", Rule: middleware.Rule{Package: "pro"}, Handler: ok},
	})

	for _, call := range []struct {
		path string
		key  apikey.Key
	}{
		{"/v1/orders", free},
		{"/v1/reports", free},
		{"/v1/support", free},
		{"/v1/orders", pro},
		{"/v1/reports", pro},
		{"/v1/support", pro},
	} {
		req := httptest.NewRequest(http.MethodGet, call.path, nil)
		req.Header.Set("Authorization", "Bearer "+call.key.Reveal())
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		fmt.Println(call.path, rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	// Output:
	// /v1/orders 200 acct_free on free
	// /v1/reports 403 {"error":"insufficient_scope","error_description":"the credential's package or permissions do not include this route"}
	// /v1/support 403 {"error":"insufficient_scope","error_description":"the credential's package or permissions do not include this route"}
	// /v1/orders 200 acct_pro on pro
	// /v1/reports 200 acct_pro on pro
	// /v1/support 200 acct_pro on pro
}
