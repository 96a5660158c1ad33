package oauth_test

import (
	"net/http"
	"testing"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIntrospectionIsLimitedToTheCallersAccount(t *testing.T) {
	f := newFixture(t, options{})
	tok := f.accessToken(t, f.sk)
	resp := f.introspect(t, tok, req{basic: basicOf(f.otherSK)})
	require.Equal(t, http.StatusOK, resp.status, resp.body)
	assert.Equal(t, map[string]any{"active": false}, resp.json, "another account's resource server learns nothing")
	resp = f.introspect(t, tok, req{basic: basicOf(f.sk2)})
	assert.Equal(t, true, resp.json["active"], "a resource server of the same account sees it")
}

func TestIntrospectionOfRefreshTokens(t *testing.T) {
	f := newFixture(t, options{})
	_, rt := f.signIn(t)
	resp := f.introspect(t, rt, req{basic: basicOf(f.sk)})
	require.Equal(t, http.StatusOK, resp.status, resp.body)
	assert.Equal(t, true, resp.json["active"])
	assert.Equal(t, "refresh_token", resp.json["token_type"])
	assert.Equal(t, f.pk.ID(), resp.json["client_id"])
	resp = f.introspect(t, rt, req{basic: basicOf(f.otherSK)})
	assert.Equal(t, map[string]any{"active": false}, resp.json)

	// Once rotated, it is no longer active.
	next := f.refreshGrant(t, f.pk.ID(), rt, "")
	require.Equal(t, http.StatusOK, next.status, next.body)
	resp = f.introspect(t, rt, req{basic: basicOf(f.sk)})
	assert.Equal(t, map[string]any{"active": false}, resp.json)
}

func TestIntrospectionIsLimitedToTheCallersMode(t *testing.T) {
	f := newFixture(t, options{})
	tok := f.accessToken(t, f.sk) // a test-mode token
	live, _, err := f.keys.Create(t.Context(), apikey.CreateParams{Grant: keygate.Grant{Account: testAccount, Mode: keygate.ModeLive}, Kind: keygate.KindSecret})
	require.NoError(t, err)
	_, err = f.keys.Approve(t.Context(), live.ID(), "reviewer")
	require.NoError(t, err)
	resp := f.introspect(t, tok, req{basic: basicOf(live)})
	require.Equal(t, http.StatusOK, resp.status, resp.body)
	assert.Equal(t, map[string]any{"active": false}, resp.json, "a live resource server learns nothing of test tokens")
}

func TestRefreshFollowsTheKeysCurrentGrant(t *testing.T) {
	f := newFixture(t, options{})
	_, rt := f.signIn(t)
	narrowed := []string{"products:read"}
	_, err := f.keys.Update(t.Context(), f.pk.ID(), apikey.Changes{Permissions: &narrowed})
	require.NoError(t, err)
	resp := f.refreshGrant(t, f.pk.ID(), rt, "")
	require.Equal(t, http.StatusOK, resp.status, resp.body)
	assert.Equal(t, "products:read", resp.str("scope"), "a refresh never grants what the key no longer holds")
	claims, err := f.verifier.Verify(t.Context(), resp.str("access_token"))
	require.NoError(t, err)
	assert.Equal(t, narrowed, claims.Permissions)
	assert.Equal(t, keygate.KindPublishable, claims.ClientKind)
}

func TestPublicClientTokensReachOnlyPublishableRoutes(t *testing.T) {
	f := newFixture(t, options{})
	userToken, _ := f.signIn(t) // through the public client
	machineToken := f.accessToken(t, f.sk)
	for name, tc := range map[string]struct {
		token        string
		secretStatus int
	}{
		"user token of a public client":  {userToken, http.StatusForbidden},
		"token of a confidential client": {machineToken, http.StatusOK},
	} {
		resp := f.do(t, req{method: http.MethodGet, path: "/v1/secret-only", bearer: tc.token})
		assert.Equal(t, tc.secretStatus, resp.status, name)
		status, _ := f.whoamiWith(t, tc.token) // a route that admits publishable credentials
		assert.Equal(t, http.StatusOK, status, name)
	}
}
