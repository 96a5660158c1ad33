package middleware_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/account"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/internal/testpackages"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/middleware"
)

// flakyAccounts is an account store that fails every Get when down is
// set.
type flakyAccounts struct {
	account.Store
	down atomic.Bool
}

func (s *flakyAccounts) Get(ctx context.Context, id string) (account.Account, error) {
	if s.down.Load() {
		return account.Account{}, errors.New("dial tcp 127.0.0.1:5432: connection refused")
	}
	return s.Store.Get(ctx, id)
}

// accountFixture has one credential of each type for the account acct_1
// (package GO), and an Authenticator that looks up accounts (auth) and
// one that does not (plain). The accounts and the tokens share a settable
// clock, which stands still until a test advances it.
type accountFixture struct {
	clock       *accessClock
	accounts    *account.Manager
	store       *flakyAccounts
	keys        *apikey.Manager
	issuer      *jwt.Issuer
	oneTime     *jwt.OneTimeTokens
	signer      *httpsig.Signer
	auth, plain *middleware.Authenticator
	apiKey      string
	token       string // claims package GO
	tokenClaims jwt.Claims
}

func newAccountFixture(t *testing.T) *accountFixture {
	t.Helper()
	ctx := context.Background()
	f := &accountFixture{clock: newAccessClock(), store: &flakyAccounts{Store: account.NewMemoryStore()}}
	var err error
	f.accounts, err = account.NewManager(account.Config{Store: f.store, Now: f.clock.Now})
	require.NoError(t, err)
	_, err = f.accounts.Create(ctx, account.CreateParams{ID: "acct_1", Name: "Shop", Package: testpackages.Go})
	require.NoError(t, err)

	f.keys, err = apikey.NewManager(apikey.Config{})
	require.NoError(t, err)
	key, _, err := f.keys.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{
		Account:     "acct_1",
		Mode:        keygate.ModeTest,
		Package:     testpackages.Go,
		Stores:      []string{"store_1"},
		Permissions: []string{"*:*"},
	}, Kind: keygate.KindSecret,
	})
	require.NoError(t, err)
	f.apiKey = key.Reveal()

	creds, err := httpsig.NewManager(httpsig.Config{MasterKey: bytes.Repeat([]byte{7}, httpsig.MasterKeyLen)})
	require.NoError(t, err)
	secret, _, err := creds.Create(ctx, httpsig.CreateParams{Grant: keygate.Grant{
		Account:     "acct_1",
		Mode:        keygate.ModeTest,
		Package:     testpackages.Go,
		Stores:      []string{"store_1"},
		Permissions: []string{"*:*"},
	}})
	require.NoError(t, err)
	f.signer = &httpsig.Signer{KeyID: secret.KeyID(), Secret: secret.Reveal()}
	signatures, err := httpsig.NewVerifier(httpsig.VerifierConfig{Credentials: creds, Authorities: httpsig.AnyAuthority})
	require.NoError(t, err)

	signing, err := jwt.GenerateKey("k1", jwt.HS256)
	require.NoError(t, err)
	jwks, err := jwt.NewKeySet(signing)
	require.NoError(t, err)
	f.issuer, err = jwt.NewIssuer(jwt.IssuerConfig{Keys: jwks, Issuer: "https://keygate.test", Audience: "api", Now: f.clock.Now})
	require.NoError(t, err)
	verifier, err := jwt.NewVerifier(jwt.VerifierConfig{Keys: jwks, Issuer: "https://keygate.test", Audience: "api", Now: f.clock.Now})
	require.NoError(t, err)
	f.tokenClaims = jwt.Claims{Subject: "user_1", ClientID: "0jPS8MolTrPGFJph", Grant: keygate.Grant{
		Account:     "acct_1",
		Mode:        keygate.ModeTest,
		Package:     testpackages.Go,
		Permissions: []string{"*:*"},
		Stores:      []string{"store_1"},
	}, ClientKind: keygate.KindSecret}
	f.token, _, err = f.issuer.Issue(t.Context(), f.tokenClaims)
	require.NoError(t, err)

	f.oneTime, err = jwt.NewOneTimeTokens(jwt.OneTimeConfig{Store: jwt.NewMemoryOneTimeStore(), Now: f.clock.Now})
	require.NoError(t, err)

	cfg := middleware.Config{APIKeys: f.keys, Tokens: verifier, Signatures: signatures, OneTime: f.oneTime,
		Access: middleware.AccessConfig{Packages: testpackages.Retail()}}
	f.plain, err = middleware.New(cfg)
	require.NoError(t, err)
	cfg.Accounts = f.accounts
	f.auth, err = middleware.New(cfg)
	require.NoError(t, err)
	return f
}

// reissue replaces the fixture's access token by one issued now.
func (f *accountFixture) reissue(t *testing.T) {
	t.Helper()
	var err error
	f.token, _, err = f.issuer.Issue(t.Context(), f.tokenClaims)
	require.NoError(t, err)
}

// routes mounts, for auth: /whoami (any secret credential, echoes the
// Principal), /export (package PRIME) and /confirm (a one-time route).
func (f *accountFixture) routes(auth *middleware.Authenticator) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /whoami", auth.Handler(principalJSON))
	mux.Handle("GET /export", auth.Require(middleware.Rule{Package: testpackages.Prime})(principalJSON))
	mux.Handle("POST /confirm", auth.Require(middleware.Rule{OneTime: "checkout:confirm"})(principalJSON))
	return mux
}

// acctCredential sends a request with one kind of credential.
type acctCredential struct {
	name string
	// request builds a request for path with the credential.
	request func(t *testing.T, f *accountFixture, method, path string) *http.Request
}

var accountCredentials = []acctCredential{
	{"API key", func(t *testing.T, f *accountFixture, method, path string) *http.Request {
		r := httptest.NewRequest(method, path, nil)
		r.Header.Set("Authorization", "Bearer "+f.apiKey)
		return r
	}},
	{"HMAC", func(t *testing.T, f *accountFixture, method, path string) *http.Request {
		r := httptest.NewRequest(method, path, nil)
		require.NoError(t, f.signer.Sign(r, nil))
		return r
	}},
	{"access token", func(t *testing.T, f *accountFixture, method, path string) *http.Request {
		r := httptest.NewRequest(method, path, nil)
		r.Header.Set("Authorization", "Bearer "+f.token)
		return r
	}},
}

// oneTimeRequest is a request with a fresh one-time token of acct_1 on
// /confirm.
func (f *accountFixture) oneTimeRequest(t *testing.T) *http.Request {
	t.Helper()
	tok, _, err := f.oneTime.Issue(context.Background(), jwt.OneTimeParams{Purpose: "checkout:confirm",
		Account: "acct_1", Mode: keygate.ModeTest, KeyID: "0jPS8MolTrPGFJph"})
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodPost, "/confirm", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

func acctServe(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// acctFailure decodes an error response.
func acctFailure(t *testing.T, rec *httptest.ResponseRecorder) (code, description string) {
	t.Helper()
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
	return body.Error, body.Description
}

// acctPrincipal decodes the Principal that principalJSON echoed.
func acctPrincipal(t *testing.T, rec *httptest.ResponseRecorder) keygate.Principal {
	t.Helper()
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var p keygate.Principal
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	return p
}

// TestDisabledAccountRefusesEveryCredential disables the account and
// checks that each credential type is refused on its next request, and
// works again once the account is enabled.
func TestDisabledAccountRefusesEveryCredential(t *testing.T) {
	f := newAccountFixture(t)
	h := f.routes(f.auth)
	ctx := context.Background()
	requests := func() map[string]func() *http.Request {
		m := map[string]func() *http.Request{"one-time token": func() *http.Request { return f.oneTimeRequest(t) }}
		for _, c := range accountCredentials {
			m[c.name] = func() *http.Request { return c.request(t, f, http.MethodGet, "/whoami") }
		}
		return m
	}
	for name, req := range requests() {
		rec := acctServe(h, req())
		assert.Equal(t, http.StatusOK, rec.Code, "%s before the account is disabled: %s", name, rec.Body)
	}

	_, err := f.accounts.Disable(ctx, "acct_1")
	require.NoError(t, err)
	for name, req := range requests() {
		rec := acctServe(h, req())
		require.Equal(t, http.StatusUnauthorized, rec.Code, "%s of a disabled account: %s", name, rec.Body)
		code, desc := acctFailure(t, rec)
		assert.Equal(t, "invalid_token", code, name)
		assert.Equal(t, "the account is disabled", desc, name)
		if name != "HMAC" {
			assert.Contains(t, rec.Header().Get("WWW-Authenticate"), `error="invalid_token"`, name)
		}
	}

	f.clock.advance(time.Minute)
	_, err = f.accounts.Enable(ctx, "acct_1")
	require.NoError(t, err)
	// The tokens obtained before the disable stay refused (see
	// TestAccountDisableCutsTokensOff); the credentials and new tokens
	// work again.
	f.reissue(t)
	for name, req := range requests() {
		rec := acctServe(h, req())
		assert.Equal(t, http.StatusOK, rec.Code, "%s after the account is enabled again: %s", name, rec.Body)
	}

	// Without Config.Accounts, nothing is looked up: today's behaviour.
	_, err = f.accounts.Disable(ctx, "acct_1")
	require.NoError(t, err)
	plain := f.routes(f.plain)
	for name, req := range requests() {
		rec := acctServe(plain, req())
		assert.Equal(t, http.StatusOK, rec.Code, "%s without Config.Accounts: %s", name, rec.Body)
	}
}

// TestAccountLookupFailsClosed: a store failure answers 503, and a
// credential whose account does not exist is refused.
func TestAccountLookupFailsClosed(t *testing.T) {
	f := newAccountFixture(t)
	h := f.routes(f.auth)
	f.store.down.Store(true)
	for _, c := range accountCredentials {
		rec := acctServe(h, c.request(t, f, http.MethodGet, "/whoami"))
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code, "%s while the account store is down: %s", c.name, rec.Body)
		code, _ := acctFailure(t, rec)
		assert.Equal(t, "temporarily_unavailable", code)
		assert.NotContains(t, rec.Body.String(), "5432", "the cause is not revealed")
	}
	rec := acctServe(h, f.oneTimeRequest(t))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code, "one-time token while the account store is down")
	f.store.down.Store(false)

	// A key of an account that was never created.
	key, _, err := f.keys.Create(context.Background(), apikey.CreateParams{Grant: keygate.Grant{Account: "acct_ghost", Mode: keygate.ModeTest}, Kind: keygate.KindSecret})
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodGet, "/whoami", nil)
	r.Header.Set("Authorization", "Bearer "+key.Reveal())
	rec = acctServe(h, r)
	require.Equal(t, http.StatusUnauthorized, rec.Code, rec.Body.String())
	code, desc := acctFailure(t, rec)
	assert.Equal(t, "invalid_token", code)
	assert.Equal(t, "the credential's account does not exist", desc)
	rec = acctServe(f.routes(f.plain), r.Clone(context.Background()))
	assert.Equal(t, http.StatusOK, rec.Code, "without Config.Accounts the key works as before")

	// An access token without an account fails closed too.
	claims := f.tokenClaims
	claims.Account = ""
	tok, _, err := f.issuer.Issue(t.Context(), claims)
	require.NoError(t, err)
	r = httptest.NewRequest(http.MethodGet, "/whoami", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	rec = acctServe(h, r)
	assert.Equal(t, http.StatusUnauthorized, rec.Code, rec.Body.String())
}

// TestAccountPackageAppliesOnNextRequest moves the account from GO to
// PRIME and back: every credential type (an API key, a signed request, an
// access token whose kg_package claim says GO) gets the account's package
// on its next request, without any change to the credential.
func TestAccountPackageAppliesOnNextRequest(t *testing.T) {
	f := newAccountFixture(t)
	h := f.routes(f.auth)
	ctx := context.Background()
	for _, c := range accountCredentials {
		assert.Equal(t, testpackages.Go, acctPrincipal(t, acctServe(h, c.request(t, f, http.MethodGet, "/whoami"))).Package, c.name)
		rec := acctServe(h, c.request(t, f, http.MethodGet, "/export"))
		assert.Equal(t, http.StatusForbidden, rec.Code, "%s: GO does not reach a PRIME route: %s", c.name, rec.Body)
	}

	prime, none := testpackages.Prime, ""
	_, err := f.accounts.Update(ctx, "acct_1", account.Changes{Package: &prime})
	require.NoError(t, err)
	for _, c := range accountCredentials {
		p := acctPrincipal(t, acctServe(h, c.request(t, f, http.MethodGet, "/whoami")))
		assert.Equal(t, testpackages.Prime, p.Package, "%s: the Principal's package is the account's", c.name)
		p = acctPrincipal(t, acctServe(h, c.request(t, f, http.MethodGet, "/export")))
		assert.Equal(t, testpackages.Prime, p.Package, c.name)
		// Without the lookup, the credential's own package stays.
		assert.Equal(t, testpackages.Go, acctPrincipal(t, acctServe(f.routes(f.plain), c.request(t, f, http.MethodGet, "/whoami"))).Package, c.name)
	}
	p := acctPrincipal(t, acctServe(h, f.oneTimeRequest(t)))
	assert.Equal(t, testpackages.Prime, p.Package, "a one-time token acts with its account's package")

	_, err = f.accounts.Update(ctx, "acct_1", account.Changes{Package: &none})
	require.NoError(t, err)
	for _, c := range accountCredentials {
		assert.Empty(t, acctPrincipal(t, acctServe(h, c.request(t, f, http.MethodGet, "/whoami"))).Package, "%s: an account without a package", c.name)
		rec := acctServe(h, c.request(t, f, http.MethodGet, "/export"))
		assert.Equal(t, http.StatusForbidden, rec.Code, c.name)
	}
	assert.True(t, strings.HasPrefix(f.token, "ey"), "the token itself never changed")
}

// TestAccountDisableCutsTokensOff: disabling an account and enabling it
// again does not bring back the tokens obtained before, as for a key's
// disable: an access token and a one-time token issued before the
// disable (or in its very second: iat has whole seconds) stay refused
// after the enable, while the account's API key, its signed requests and
// the tokens issued since work. Before the account cut-off, both old
// tokens were accepted again after the enable.
func TestAccountDisableCutsTokensOff(t *testing.T) {
	f := newAccountFixture(t)
	h := f.routes(f.auth)
	ctx := context.Background()
	oldToken := f.token
	oldOneTime := f.oneTimeRequest(t) // issued, not yet redeemed

	f.clock.advance(10 * time.Second) // one-time tokens live 60 seconds
	_, err := f.accounts.Disable(ctx, "acct_1")
	require.NoError(t, err)
	f.clock.advance(500 * time.Millisecond)
	sameSecond := f.oneTimeRequest(t) // issued in the second of the disable
	f.reissue(t)
	sameSecondToken := f.token
	f.clock.advance(10 * time.Second)
	_, err = f.accounts.Enable(ctx, "acct_1")
	require.NoError(t, err)

	bearer := func(tok string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/whoami", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		return r
	}
	for _, tc := range []struct {
		name string
		req  *http.Request
	}{
		{"access token issued before the disable", bearer(oldToken)},
		{"access token issued in the second of the disable", bearer(sameSecondToken)},
		{"one-time token issued before the disable", oldOneTime},
		{"one-time token issued in the second of the disable", sameSecond},
	} {
		rec := acctServe(h, tc.req)
		require.Equal(t, http.StatusUnauthorized, rec.Code, "%s: %s", tc.name, rec.Body)
		code, desc := acctFailure(t, rec)
		assert.Equal(t, "invalid_token", code, tc.name)
		assert.Equal(t, "the token was issued before its account was disabled", desc, tc.name)
	}

	// What the account's credentials obtain now works, and so do they.
	f.reissue(t)
	for _, c := range accountCredentials {
		rec := acctServe(h, c.request(t, f, http.MethodGet, "/whoami"))
		assert.Equal(t, http.StatusOK, rec.Code, "%s after the enable: %s", c.name, rec.Body)
	}
	rec := acctServe(h, f.oneTimeRequest(t))
	assert.Equal(t, http.StatusOK, rec.Code, "a one-time token issued after the enable: %s", rec.Body)

	// Without Config.Accounts, nothing is looked up.
	rec = acctServe(f.routes(f.plain), bearer(oldToken))
	assert.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
}
