package oauth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/account"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/internal/testpackages"
	"github.com/keygate/keygate/middleware"
	"github.com/keygate/keygate/oauth"
)

// scopeKey creates a test secret key of acct_1 on pkg with perms (none: a
// standard key).
func (e *guardEnv) scopeKey(t *testing.T, pkg string, perms ...string) apikey.Key {
	t.Helper()
	k, _, err := e.keys.Create(context.Background(), apikey.CreateParams{Grant: keygate.Grant{
		Account:     testAccount,
		Mode:        keygate.ModeTest,
		Package:     pkg,
		Permissions: perms,
	}, Kind: keygate.KindSecret})
	require.NoError(t, err)
	return k
}

// grantedScope asks for a client-credentials token with scope and returns
// the status and the granted scope (or the error code).
func (e *guardEnv) grantedScope(t *testing.T, k apikey.Key, scope string) (int, string) {
	t.Helper()
	form := clientCredentials()
	if scope != "" {
		form.Set("scope", scope)
	}
	rec := post(e.token, "192.0.2.10:1234", form, k.ID(), k.Reveal())
	var body struct {
		Scope string `json:"scope"`
		Error string `json:"error"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
	if rec.Code != http.StatusOK {
		return rec.Code, body.Error
	}
	return rec.Code, body.Scope
}

// TestScopeWithinEffectivePermissions: the scope a client asks for must
// be among what its key effectively holds (its package applied, with the
// access package's wildcard rules), and never more than its own list.
func TestScopeWithinEffectivePermissions(t *testing.T) {
	e := newGuardEnv(t, guardOptions{access: middleware.AccessConfig{Packages: testpackages.Retail()}})
	standardGO := e.scopeKey(t, testpackages.Go)
	restrictedGO := e.scopeKey(t, testpackages.Go, "offers:*", "analytics:export")
	wildcard := e.scopeKey(t, testpackages.Prime, "*:*")

	for _, tc := range []struct {
		name  string
		key   apikey.Key
		scope string
		code  int
		want  string
	}{
		{"standard key, a permission of its package", standardGO, "offers:write", 200, "offers:write"},
		{"standard key, beyond its package", standardGO, "analytics:export", 400, "invalid_scope"},
		{"standard key, a wildcard wider than its package", standardGO, "offers:*", 400, "invalid_scope"},
		{"standard key, an admin permission", standardGO, "admin:write", 400, "invalid_scope"},
		{"restricted key, inside its wildcard", restrictedGO, "offers:read", 200, "offers:read"},
		{"restricted key, its own permission its package lacks", restrictedGO, "analytics:export", 400, "invalid_scope"},
		{"restricted key, in its package but not its list", restrictedGO, "products:read", 400, "invalid_scope"},
		{"restricted key, a wider wildcard", restrictedGO, "*:*", 400, "invalid_scope"},
		{"operator key, a packaged permission", wildcard, "analytics:export", 200, "analytics:export"},
		{"operator key, an admin permission", wildcard, "admin:read", 200, "admin:read"},
		{"malformed", wildcard, "Not:Valid", 400, "invalid_scope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, got := e.grantedScope(t, tc.key, tc.scope)
			assert.Equal(t, tc.code, code)
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestRefreshNeverWidensToStandard: a refreshed token whose family's
// permissions its key no longer holds is refused, never issued without
// permissions (which would read as a standard token: the whole package).
func TestRefreshNeverWidensToStandard(t *testing.T) {
	e := newGuardEnv(t, guardOptions{access: middleware.AccessConfig{Packages: testpackages.Retail()}})
	ctx := context.Background()
	// A public client on a restricted key: alice signs in for orders:read.
	pk, rec, err := e.keys.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{
		Account:     testAccount,
		Mode:        keygate.ModeTest,
		Package:     testpackages.Go,
		Permissions: []string{"orders:read"},
	}, Kind: keygate.KindPublishable})
	require.NoError(t, err)
	r := post(e.token, "192.0.2.11:1234", passwordForm(pk, "alice", alicePassword), "", "")
	require.Equal(t, http.StatusOK, r.Code, r.Body.String())
	var tok struct {
		RefreshToken string `json:"refresh_token"`
	}
	require.NoError(t, json.Unmarshal(r.Body.Bytes(), &tok))
	require.NotEmpty(t, tok.RefreshToken)

	// The key now holds only offers:read.
	perms := []string{"offers:read"}
	_, err = e.keys.Update(ctx, rec.ID, apikey.Changes{Permissions: &perms})
	require.NoError(t, err)

	form := url.Values{"grant_type": {"refresh_token"}, "client_id": {pk.ID()}, "refresh_token": {tok.RefreshToken}}
	r = post(e.token, "192.0.2.11:1234", form, "", "")
	assert.Equal(t, http.StatusBadRequest, r.Code, r.Body.String())
	assert.Equal(t, "invalid_grant", oauthCode(t, r))
}

// TestIntrospectionNarrowedToKey: introspection describes what a token
// holds now, as the middleware would take it: its permissions narrowed to
// its key's current ones.
func TestIntrospectionNarrowedToKey(t *testing.T) {
	e := newGuardEnv(t, guardOptions{access: middleware.AccessConfig{Packages: testpackages.Retail()}})
	ctx := context.Background()
	k, rec, err := e.keys.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{
		Account:     testAccount,
		Mode:        keygate.ModeTest,
		Package:     testpackages.Go,
		Permissions: []string{"products:read", "products:write"},
	}, Kind: keygate.KindSecret})
	require.NoError(t, err)
	r := post(e.token, "192.0.2.12:1234", clientCredentials(), k.ID(), k.Reveal())
	require.Equal(t, http.StatusOK, r.Code, r.Body.String())
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.Unmarshal(r.Body.Bytes(), &tok))

	narrower := []string{"products:read"}
	_, err = e.keys.Update(ctx, rec.ID, apikey.Changes{Permissions: &narrower})
	require.NoError(t, err)
	r = post(e.introspect, "192.0.2.12:1234", url.Values{"token": {tok.AccessToken}}, e.sk.ID(), e.sk.Reveal())
	require.Equal(t, http.StatusOK, r.Code, r.Body.String())
	var got struct {
		Active      bool     `json:"active"`
		Scope       string   `json:"scope"`
		Permissions []string `json:"kg_permissions"`
	}
	require.NoError(t, json.Unmarshal(r.Body.Bytes(), &got))
	assert.True(t, got.Active)
	assert.Equal(t, "products:read", got.Scope)
	assert.Equal(t, []string{"products:read"}, got.Permissions)
}

// TestScopeWithTheAccountsCurrentPackage: with Config.Accounts, a scope
// is judged with the account's current package, as the middleware judges
// the token, not the package the key record carries.
func TestScopeWithTheAccountsCurrentPackage(t *testing.T) {
	accounts, err := account.NewManager(account.Config{})
	require.NoError(t, err)
	_, err = accounts.Create(context.Background(), account.CreateParams{ID: testAccount, Name: "Shop", Package: testpackages.Go})
	require.NoError(t, err)
	e := newGuardEnv(t, guardOptions{
		access:    middleware.AccessConfig{Packages: testpackages.Retail()},
		oauthConf: func(c *oauth.Config) { c.Accounts = accounts },
	})
	standard := e.scopeKey(t, testpackages.Go) // its record says GO
	code, got := e.grantedScope(t, standard, "analytics:export")
	require.Equal(t, http.StatusBadRequest, code, "GO does not include it")
	require.Equal(t, "invalid_scope", got)

	prime := testpackages.Prime
	_, err = accounts.Update(context.Background(), testAccount, account.Changes{Package: &prime})
	require.NoError(t, err)
	code, got = e.grantedScope(t, standard, "analytics:export")
	assert.Equal(t, http.StatusOK, code, got)
	assert.Equal(t, "analytics:export", got)
}
