package main

import (
	"net/http"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestServeTokensFollowTheirKey: against keygate serve, an access token is
// refused on the very next request once the key that obtained it is
// revoked, disabled or rotated without grace (and kept by a rotation with
// grace), and introspection reports it inactive. Today's keygate accepted
// such a token for its whole lifetime (15 minutes).
func TestServeTokensFollowTheirKey(t *testing.T) {
	dir := t.TempDir()
	in := startInstance(t, "--db", filepath.Join(dir, "keygate.db"), "--master-key-file", filepath.Join(dir, "keygate.key"))
	require.True(t, in.created)
	keys := in.keys
	c := httpClient(t)
	for _, tc := range []struct {
		name, path string
		body       any
		want       int
	}{
		{"revoke", "/revoke", nil, http.StatusUnauthorized},
		{"disable", "/disable", nil, http.StatusUnauthorized},
		{"rotate without grace", "/rotate", map[string]any{"grace_seconds": 0}, http.StatusUnauthorized},
		{"rotate with grace", "/rotate", map[string]any{"grace_seconds": 3600}, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, key := createKey(t, c, in.url, keys.admin)
			r := postForm(t, in.url+"/oauth/token", url.Values{"grant_type": {"client_credentials"}}, id, key)
			require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
			token := jsonBody(t, r)["access_token"].(string)
			require.Equal(t, http.StatusOK, call(t, c, http.MethodGet, in.url+"/v1/whoami", nil, bearer(token)...).status)
			introspect := func() any {
				r := postForm(t, in.url+"/oauth/introspect", url.Values{"token": {token}}, keyID(keys.secret), keys.secret)
				require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
				return jsonBody(t, r)["active"]
			}
			require.Equal(t, true, introspect())

			r = call(t, c, http.MethodPost, in.url+"/admin/v1/keys/"+id+tc.path, tc.body, bearer(keys.admin)...)
			require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
			r = call(t, c, http.MethodGet, in.url+"/v1/whoami", nil, bearer(token)...)
			require.Equal(t, tc.want, r.status, "body: %s", r.body)
			if tc.want == http.StatusUnauthorized {
				require.Equal(t, "invalid_token", jsonBody(t, r)["error"])
				require.Equal(t, false, introspect())
			}
		})
	}
	in.stop(t)
}

// TestServeTokenOfKeyTurnedStandard: a key holding admin:write obtains an
// access token, then is made a standard key (no permissions: its
// package's, never an admin one). Its token loses admin:write on the next
// request: minting a key with it is refused. The token used to keep every
// permission it was issued with, admin ones included.
func TestServeTokenOfKeyTurnedStandard(t *testing.T) {
	in := startInstance(t, "--db", "memory")
	require.True(t, in.created)
	c := httpClient(t)
	r := call(t, c, http.MethodPost, in.url+"/admin/v1/keys", map[string]any{
		"account": "acct_admin", "mode": "test", "kind": "sk", "permissions": []string{"admin:write", "products:read"},
	}, bearer(in.keys.admin)...)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	secret := jsonBody(t, r)["secret"].(map[string]any)
	id, key := secret["id"].(string), secret["key"].(string)
	r = postForm(t, in.url+"/oauth/token", url.Values{"grant_type": {"client_credentials"}}, id, key)
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	token := jsonBody(t, r)["access_token"].(string)
	mint := map[string]any{"account": "acct_admin", "mode": "test", "kind": "sk", "permissions": []string{"products:read"}}
	r = call(t, c, http.MethodPost, in.url+"/admin/v1/keys", mint, bearer(token)...)
	require.Equal(t, http.StatusCreated, r.status, "the token holds admin:write: %s", r.body)

	r = call(t, c, http.MethodPatch, in.url+"/admin/v1/keys/"+id, map[string]any{"permissions": []string{}}, bearer(in.keys.admin)...)
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	r = call(t, c, http.MethodPost, in.url+"/admin/v1/keys", mint, bearer(token)...)
	require.Equal(t, http.StatusForbidden, r.status, "a standard key's token holds no admin permission: %s", r.body)
	r = call(t, c, http.MethodGet, in.url+"/v1/whoami", nil, bearer(token)...)
	require.Equal(t, http.StatusOK, r.status, "it keeps what its package includes: %s", r.body)
	require.NotContains(t, jsonBody(t, r)["permissions"], "admin:write")
	in.stop(t)
}

// TestServeOneTimeTokensFollowTheirHMACCredential: against keygate serve,
// a one-time token that an HMAC credential obtained (a signed POST
// /v1/checkout/start) is refused once the credential is rotated without
// grace, and kept by a rotation with grace, as an API key's tokens are.
// Before the HMAC credential's cut-off, the token confirmed the checkout
// after a rotation without grace.
func TestServeOneTimeTokensFollowTheirHMACCredential(t *testing.T) {
	dir := t.TempDir()
	in := startInstance(t, "--db", filepath.Join(dir, "keygate.db"), "--master-key-file", filepath.Join(dir, "keygate.key"))
	require.True(t, in.created)
	c := httpClient(t)
	for _, tc := range []struct {
		name  string
		grace int
		want  int
	}{
		{"rotate without grace", 0, http.StatusUnauthorized},
		{"rotate with grace", 3600, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, c, http.MethodPost, in.url+"/admin/v1/hmac-keys", map[string]any{"account": primeAccount, "mode": "test", "name": "checkout"},
				bearer(in.keys.admin)...)
			require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
			cred := jsonBody(t, r)
			b := in.keys
			b.hmacID, b.hmacSecret = cred["id"].(string), cred["secret"].(string)
			r = send(t, c, signedRequest(t, b, http.MethodPost, in.url+"/v1/checkout/start", ""))
			require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
			oneTime := jsonBody(t, r)["one_time_token"].(string)

			r = call(t, c, http.MethodPost, in.url+"/admin/v1/hmac-keys/"+b.hmacID+"/rotate", map[string]any{"grace_seconds": tc.grace}, bearer(in.keys.admin)...)
			require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
			r = call(t, c, http.MethodPost, in.url+"/v1/checkout/confirm", nil, bearer(oneTime)...)
			require.Equal(t, tc.want, r.status, "body: %s", r.body)
			if tc.want == http.StatusUnauthorized {
				require.Equal(t, "invalid_token", jsonBody(t, r)["error"])
			}
		})
	}
	in.stop(t)
}
