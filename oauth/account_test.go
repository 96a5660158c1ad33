package oauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/account"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/oauth"
)

// downAccounts is an account store whose Get fails while down is set.
type downAccounts struct {
	account.Store
	down atomic.Bool
}

func (s *downAccounts) Get(ctx context.Context, id string) (account.Account, error) {
	if s.down.Load() {
		return account.Account{}, errors.New("connection refused")
	}
	return s.Store.Get(ctx, id)
}

// oneUser is the password grant's only user, alice of acct_1.
type oneUser struct{}

func (oneUser) Authenticate(_ context.Context, username, pw string) (oauth.User, error) {
	if username == "alice" && pw == "pw" {
		return oauth.User{Subject: aliceSubject, Account: testAccount}, nil
	}
	return oauth.User{}, oauth.ErrBadCredentials
}

// TestDisabledAccountClients checks that the token, revocation and
// introspection endpoints refuse clients whose account is disabled or
// unknown, with invalid_client, and that a failing lookup answers 503.
func TestDisabledAccountClients(t *testing.T) {
	ctx := context.Background()
	store := &downAccounts{Store: account.NewMemoryStore()}
	accounts, err := account.NewManager(account.Config{Store: store})
	require.NoError(t, err)
	_, err = accounts.Create(ctx, account.CreateParams{ID: testAccount, Name: "Shop", Package: "GO"})
	require.NoError(t, err)
	keys, err := apikey.NewManager(apikey.Config{})
	require.NoError(t, err)
	pk, sk, err := keys.CreatePair(ctx, apikey.CreateParams{Grant: keygate.Grant{Account: testAccount, Mode: keygate.ModeTest, Permissions: testPerms}})
	require.NoError(t, err)
	ghost, _, err := keys.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{Account: "acct_ghost", Mode: keygate.ModeTest}, Kind: keygate.KindSecret})
	require.NoError(t, err)

	signing, err := jwt.GenerateKey("k1", jwt.HS256)
	require.NoError(t, err)
	jwks, err := jwt.NewKeySet(signing)
	require.NoError(t, err)
	issuer, err := jwt.NewIssuer(jwt.IssuerConfig{Keys: jwks, Issuer: testIssuer, Audience: testAudience})
	require.NoError(t, err)
	verifier, err := jwt.NewVerifier(jwt.VerifierConfig{Keys: jwks, Issuer: testIssuer, Audience: testAudience})
	require.NoError(t, err)
	refresh, err := jwt.NewRefreshTokens(jwt.RefreshConfig{})
	require.NoError(t, err)
	newServer := func(lookup account.Lookup) http.Handler {
		s, err := oauth.NewServer(oauth.Config{Clients: keys, Issuer: issuer, Verifier: verifier, Refresh: refresh, Users: oneUser{}, Accounts: lookup})
		require.NoError(t, err)
		mux := http.NewServeMux()
		mux.Handle("POST /token", s.TokenHandler())
		mux.Handle("POST /revoke", s.RevocationHandler())
		mux.Handle("POST /introspect", s.IntrospectionHandler())
		return mux
	}
	h, plain := newServer(accounts), newServer(nil)
	post := func(h http.Handler, path string, form url.Values) (int, map[string]any) {
		r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		var body map[string]any
		if rec.Body.Len() > 0 { // revocation answers 200 without a body
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
		}
		return rec.Code, body
	}
	clientCredentials := url.Values{"grant_type": {"client_credentials"}, "client_id": {sk.ID()}, "client_secret": {sk.Reveal()}}
	passwordGrant := url.Values{"grant_type": {"password"}, "client_id": {pk.ID()}, "username": {"alice"}, "password": {"pw"}}

	code, body := post(h, "/token", clientCredentials)
	require.Equal(t, http.StatusOK, code, body)
	accessToken := body["access_token"].(string)
	code, body = post(h, "/token", passwordGrant)
	require.Equal(t, http.StatusOK, code, body)
	refreshToken := body["refresh_token"].(string)

	_, err = accounts.Disable(ctx, testAccount)
	require.NoError(t, err)
	for name, tc := range map[string]struct {
		path string
		form url.Values
	}{
		"client_credentials": {"/token", clientCredentials},
		"password":           {"/token", passwordGrant},
		"refresh_token":      {"/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {pk.ID()}, "refresh_token": {refreshToken}}},
		"revocation":         {"/revoke", url.Values{"client_id": {sk.ID()}, "client_secret": {sk.Reveal()}, "token": {accessToken}}},
		"introspection":      {"/introspect", url.Values{"client_id": {sk.ID()}, "client_secret": {sk.Reveal()}, "token": {accessToken}}},
	} {
		code, body := post(h, tc.path, tc.form)
		assert.Equal(t, http.StatusUnauthorized, code, "%s for a client of a disabled account: %v", name, body)
		assert.Equal(t, "invalid_client", body["error"], name)
		code, _ = post(plain, tc.path, tc.form)
		assert.NotEqual(t, http.StatusUnauthorized, code, "%s without Config.Accounts: as before", name)
	}

	_, err = accounts.Enable(ctx, testAccount)
	require.NoError(t, err)
	code, body = post(h, "/token", clientCredentials)
	assert.Equal(t, http.StatusOK, code, "enabled again: %v", body)

	// A client whose account does not exist.
	code, body = post(h, "/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {ghost.ID()}, "client_secret": {ghost.Reveal()}})
	assert.Equal(t, http.StatusUnauthorized, code, body)
	assert.Equal(t, "invalid_client", body["error"])

	// A lookup that fails answers 503, revealing nothing.
	store.down.Store(true)
	code, body = post(h, "/token", clientCredentials)
	assert.Equal(t, http.StatusServiceUnavailable, code, body)
	assert.Equal(t, "temporarily_unavailable", body["error"])
}
