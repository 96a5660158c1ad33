package middleware_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/middleware"
)

func TestPerCredentialDenyLists(t *testing.T) {
	m := newKeyManager(t)
	key := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{AllowedIPs: []string{"203.0.113.0/24"}, DeniedIPs: []string{"203.0.113.66"}}})
	open := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{DeniedIPs: []string{"198.51.100.0/24", "2001:db8::/32"}}})
	h := newAccessAuth(t, m, middleware.AccessConfig{}).Handler(principalJSON)
	for _, tc := range []struct {
		key, remote string
		want        int
	}{
		{key, "203.0.113.9:1", 200},
		{key, "203.0.113.66:1", 403}, // denied wins over allowed
		{key, "192.0.2.1:1", 403},
		{open, "192.0.2.1:1", 200}, // a deny list alone allows the rest
		{open, "198.51.100.200:1", 403},
		{open, "[2001:db8::5]:1", 403},
	} {
		rec := serve(h, areq{remote: tc.remote, key: tc.key})
		assert.Equal(t, tc.want, rec.Code, tc.remote)
		if tc.want == 403 {
			assert.Equal(t, "ip_forbidden", errorCode(t, rec), tc.remote)
		}
	}
}

func TestPerCredentialCountries(t *testing.T) {
	m := newKeyManager(t)
	onlySE := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{AllowedCountries: []string{"SE"}}})
	notUS := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{DeniedCountries: []string{"US"}}})
	anywhere := mkKey(t, m, apikey.CreateParams{})
	h := newAccessAuth(t, m, middleware.AccessConfig{Geo: geoDB(t)}).Handler(principalJSON)
	for _, tc := range []struct {
		key, remote string
		want        int
	}{
		{onlySE, "89.160.20.112:1", 200},
		{onlySE, "216.160.83.57:1", 403},
		{onlySE, "1.2.3.4:1", 403}, // no country
		{notUS, "89.160.20.112:1", 200},
		{notUS, "216.160.83.57:1", 403},
		{anywhere, "216.160.83.57:1", 200},
	} {
		rec := serve(h, areq{remote: tc.remote, key: tc.key})
		assert.Equal(t, tc.want, rec.Code, tc.remote)
		if tc.want == 403 {
			assert.Equal(t, "geo_forbidden", errorCode(t, rec), tc.remote)
		}
	}
	// Country rules on a credential without a Geo resolver: refused.
	h = newAccessAuth(t, m, middleware.AccessConfig{}).Handler(principalJSON)
	rec := serve(h, areq{remote: "89.160.20.112:1", key: onlySE})
	assert.Equal(t, http.StatusForbidden, rec.Code)
}

func TestOriginRulesInvalidOnCreate(t *testing.T) {
	m := newKeyManager(t)
	for _, p := range []apikey.CreateParams{
		{Grant: keygate.Grant{Account: "a", Mode: keygate.ModeTest, DeniedIPs: []string{"10.0.0.1/8"}}, Kind: keygate.KindSecret},
		{Grant: keygate.Grant{Account: "a", Mode: keygate.ModeTest, AllowedCountries: []string{"se"}}, Kind: keygate.KindSecret},
		{Grant: keygate.Grant{Account: "a", Mode: keygate.ModeTest, DeniedCountries: []string{"SWE"}}, Kind: keygate.KindSecret},
	} {
		_, _, err := m.Create(context.Background(), p)
		assert.ErrorIs(t, err, apikey.ErrInvalidParams)
	}
}

func TestTokenOriginRules(t *testing.T) {
	f := newTokenFixture(t, jwt.HS256, 0)
	tok, _, err := f.issuer.Issue(t.Context(), jwt.Claims{Subject: "acct_1", ClientID: "c1", Grant: keygate.Grant{
		Account:   "acct_1",
		Mode:      keygate.ModeTest,
		DeniedIPs: []string{"192.0.2.0/24"},
	}, ClientKind: keygate.KindSecret})
	require.NoError(t, err)
	h := f.auth.Handler(principalJSON)
	assert.Equal(t, http.StatusForbidden, serve(h, areq{remote: "192.0.2.1:1", key: tok}).Code)
	assert.Equal(t, http.StatusOK, serve(h, areq{remote: "198.51.100.1:1", key: tok}).Code)
}

func TestRolesOnCredentials(t *testing.T) {
	m := newKeyManager(t)
	cashier := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{Permissions: []string{"@cashier"}}})
	unknownRole := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{Permissions: []string{"@cashier", "@ghost"}}})
	auth := newAccessAuth(t, m, middleware.AccessConfig{Roles: map[string][]string{"cashier": {"checkout:start", "products:read"}}})
	mux := http.NewServeMux()
	auth.Mount(mux, []middleware.Route{
		{Pattern: "POST /v1/checkout/start", Rule: middleware.Rule{Permission: "checkout:start"}, Handler: principalJSON},
		{Pattern: "POST /v1/offers", Rule: middleware.Rule{Permission: "offers:write"}, Handler: principalJSON},
	})
	assert.Equal(t, http.StatusOK, serve(mux, areq{method: "POST", path: "/v1/checkout/start", remote: "192.0.2.1:1", key: cashier}).Code)
	assert.Equal(t, http.StatusForbidden, serve(mux, areq{method: "POST", path: "/v1/offers", remote: "192.0.2.1:1", key: cashier}).Code)
	assert.Equal(t, http.StatusForbidden, serve(mux, areq{method: "POST", path: "/v1/checkout/start", remote: "192.0.2.1:1", key: unknownRole}).Code, "an unknown role voids the list")
}
