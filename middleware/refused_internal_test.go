package middleware

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/account"
	"github.com/keygate/keygate/apikey"
)

// TestRefusedCallerPackage: check names a caller refused by the route's
// rule (kind, mode, store) with its credential's package, as it was before
// its account was read, and a caller refused after the rule (its origin,
// a permission) with its account's package; never with the credential's
// permissions or stores.
func TestRefusedCallerPackage(t *testing.T) {
	ctx := context.Background()
	accounts, err := account.NewManager(account.Config{Store: account.NewMemoryStore()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := accounts.Create(ctx, account.CreateParams{ID: "acct_1", Name: "Shop", Package: "PLUS"}); err != nil {
		t.Fatal(err)
	}
	keys, err := apikey.NewManager(apikey.Config{})
	if err != nil {
		t.Fatal(err)
	}
	mk := func(kind keygate.Kind, allowed ...string) string {
		k, _, err := keys.Create(ctx, apikey.CreateParams{Kind: kind, Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest,
			Package: "GO", Stores: []string{"store_1", "store_2"}, Permissions: []string{"products:read"}, AllowedIPs: allowed}})
		if err != nil {
			t.Fatal(err)
		}
		return k.Reveal()
	}
	sk, pk, bound := mk(keygate.KindSecret), mk(keygate.KindPublishable), mk(keygate.KindSecret, "203.0.113.0/24")
	a, err := New(Config{APIKeys: keys, Accounts: accounts})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, key, store string
		rule             Rule
		pkg, wantStore   string
	}{
		{"publishable key", pk, "store_2", Rule{}, "GO", "store_2"},
		{"live route", sk, "", Rule{Mode: keygate.ModeLive}, "GO", ""},
		{"store not granted", sk, "store_9", Rule{}, "GO", "store_9"},
		{"address outside the key's", bound, "store_1", Rule{}, "PLUS", "store_1"},
		{"permission not granted", sk, "store_2", Rule{Permission: "orders:write"}, "PLUS", "store_2"},
	} {
		c, err := a.compile(tc.rule)
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", "Bearer "+tc.key)
		if tc.store != "" {
			r.Header.Set("X-Store-Id", tc.store)
		}
		var p keygate.Principal
		if _, err := a.check(r, &c, netip.MustParseAddr("192.0.2.1"), true, &p, nil); err == nil {
			t.Fatalf("%s: admitted", tc.name)
		}
		if p.Method != keygate.MethodAPIKey || p.Account != "acct_1" || p.Package != tc.pkg || p.Store != tc.wantStore ||
			p.Permissions != nil || p.Stores != nil {
			t.Errorf("%s: refused caller %+v, want package %q and store %q, without permissions or stores", tc.name, p, tc.pkg, tc.wantStore)
		}
	}
}
