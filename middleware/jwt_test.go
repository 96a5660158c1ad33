package middleware_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/middleware"
)

// tokenFixture adds an issuer and a verifier with a settable clock to the
// API-key fixture.
type tokenFixture struct {
	*fixture
	issuer   *jwt.Issuer
	verifier *jwt.Verifier
	auth     *middleware.Authenticator
	mu       sync.Mutex
	now      time.Time
}

func (f *tokenFixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *tokenFixture) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

func newTokenFixture(t testing.TB, alg jwt.Algorithm, cacheSize int) *tokenFixture {
	t.Helper()
	f := &tokenFixture{fixture: newPlainFixture(t), now: time.Now()}
	key, err := jwt.GenerateKey("k1", alg)
	require.NoError(t, err)
	keys, err := jwt.NewKeySet(key)
	require.NoError(t, err)
	f.issuer, err = jwt.NewIssuer(jwt.IssuerConfig{Keys: keys, Issuer: "https://keygate.test", Audience: "api", Now: f.clock})
	require.NoError(t, err)
	f.verifier, err = jwt.NewVerifier(jwt.VerifierConfig{Keys: keys, Issuer: "https://keygate.test", Audience: "api", Now: f.clock, CacheSize: cacheSize})
	require.NoError(t, err)
	f.auth, err = middleware.New(middleware.Config{APIKeys: f.keys, Tokens: f.verifier})
	require.NoError(t, err)
	return f
}

func (f *tokenFixture) token(t testing.TB, mode keygate.Mode) string {
	t.Helper()
	return f.tokenOf(t, mode, keygate.KindSecret)
}

// tokenOf issues a token as obtained by a client key of that kind.
func (f *tokenFixture) tokenOf(t testing.TB, mode keygate.Mode, kind keygate.Kind) string {
	t.Helper()
	tok, _, err := f.issuer.Issue(t.Context(), jwt.Claims{Subject: "acct_1", ClientID: "0jPS8MolTrPGFJph", Scope: "products:read",
		Grant: keygate.Grant{
			Account:     "acct_1",
			Mode:        mode,
			Package:     "GO",
			Permissions: []string{"products:read"},
			Stores:      []string{"store_1", "store_2"},
		}, ClientKind: kind})
	require.NoError(t, err)
	return tok
}

func TestPublicClientTokensStayOnPublishableRoutes(t *testing.T) {
	f := newTokenFixture(t, jwt.HS256, 0)
	secretOnly := f.auth.Handler(principalJSON)
	publishable := f.auth.Require(middleware.Rule{Publishable: true})(principalJSON)
	for _, tc := range []struct {
		kind               keygate.Kind
		secret, publicCode int
	}{
		{keygate.KindSecret, 200, 200},
		{keygate.KindPublishable, 403, 200}, // a public client's token, as its publishable key
		{"", 403, 200},                      // a token that does not say fails closed
		{"xx", 403, 200},
	} {
		tok := f.tokenOf(t, keygate.ModeTest, tc.kind)
		for _, route := range []struct {
			h    http.Handler
			want int
		}{{secretOnly, tc.secret}, {publishable, tc.publicCode}} {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			rec := httptest.NewRecorder()
			route.h.ServeHTTP(rec, req)
			assert.Equal(t, route.want, rec.Code, "client kind %q", tc.kind)
		}
	}
}

func TestMiddlewareAcceptsAccessTokens(t *testing.T) {
	f := newTokenFixture(t, jwt.RS256, 0)
	testTok, liveTok := f.token(t, keygate.ModeTest), f.token(t, keygate.ModeLive)
	do := func(h http.Handler, header http.Header) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		for k, v := range header {
			req.Header[k] = v
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	bearer := func(s string) http.Header { return http.Header{"Authorization": {"Bearer " + s}} }

	rec := do(f.auth.Handler(principalJSON), http.Header{"Authorization": {"Bearer " + testTok}, "X-Store-Id": {"store_2"}})
	require.Equal(t, 200, rec.Code, rec.Body.String())
	var p keygate.Principal
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	assert.Equal(t, keygate.MethodJWT, p.Method)
	assert.Equal(t, "0jPS8MolTrPGFJph", p.KeyID)
	assert.Equal(t, "acct_1", p.Subject)
	assert.Equal(t, "products:read", p.Scope)
	assert.NotEmpty(t, p.TokenID)
	assert.Equal(t, keygate.ModeTest, p.Mode)
	assert.Equal(t, "store_2", p.Store)
	assert.NotContains(t, rec.Body.String(), testTok)

	// API keys keep working beside tokens.
	assert.Equal(t, 200, do(f.auth.Handler(principalJSON), bearer(f.testSK)).Code)
	// Modes apply to tokens too.
	live := f.auth.Require(middleware.Rule{Mode: keygate.ModeLive})(principalJSON)
	assert.Equal(t, 403, do(live, bearer(testTok)).Code)
	assert.Equal(t, 200, do(live, bearer(liveTok)).Code)
	// A store the token does not carry.
	assert.Equal(t, 403, do(f.auth.Handler(principalJSON), http.Header{"Authorization": {"Bearer " + testTok}, "X-Store-Id": {"store_9"}}).Code)

	// Garbage, a tampered token, an expired one, a revoked one: 401 with a
	// challenge, never 500.
	tampered := testTok[:len(testTok)-4] + "AAAA"
	for name, tok := range map[string]string{"garbage": "a.b.c", "tampered": tampered, "alg none": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "many dots": strings.Repeat("a.", 4000)} {
		rec := do(f.auth.Handler(principalJSON), bearer(tok))
		assert.Equal(t, 401, rec.Code, name)
		assert.Contains(t, rec.Header().Get("WWW-Authenticate"), `error="invalid_token"`, name)
	}
	f.advance(16 * time.Minute)
	rec = do(f.auth.Handler(principalJSON), bearer(testTok))
	assert.Equal(t, 401, rec.Code)
	assert.Contains(t, rec.Body.String(), "expired")
	f.advance(-16 * time.Minute)

	require.Equal(t, 200, do(f.auth.Handler(principalJSON), bearer(liveTok)).Code)
	claims, err := f.verifier.Verify(context.Background(), liveTok)
	require.NoError(t, err)
	require.NoError(t, f.verifier.Denylist().RevokeToken(context.Background(), claims.ID, claims.ExpiresAt))
	rec = do(f.auth.Handler(principalJSON), bearer(liveTok))
	assert.Equal(t, 401, rec.Code, "revocation takes effect on the next request, cache or not")
	assert.Contains(t, rec.Body.String(), "revoked")
}

func TestTokenPrincipalIsTheRequestsOwn(t *testing.T) {
	f := newTokenFixture(t, jwt.HS256, 0)
	tok := f.token(t, keygate.ModeTest)
	h := f.auth.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := keygate.FromContext(r.Context())
		p.Stores[0] = "victim_store"
		p.Permissions[0] = "admin"
	}))
	for i := 0; i < 2; i++ {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	p, err := f.auth.Check(req, middleware.Rule{})
	require.NoError(t, err)
	assert.Equal(t, []string{"store_1", "store_2"}, p.Stores, "the cached claims are untouched")
	assert.Equal(t, []string{"products:read"}, p.Permissions)
}

func TestTokensOnlyAuthenticator(t *testing.T) {
	f := newTokenFixture(t, jwt.HS256, -1)
	auth, err := middleware.New(middleware.Config{Tokens: f.verifier})
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer "+f.testSK) // an API key, which this authenticator cannot check
	_, err = auth.Check(req, middleware.Rule{})
	assert.ErrorIs(t, err, middleware.ErrInvalidToken)
	req.Header.Set("Authorization", "Bearer "+f.token(t, keygate.ModeTest))
	p, err := auth.Check(req, middleware.Rule{})
	require.NoError(t, err)
	assert.Equal(t, keygate.MethodJWT, p.Method)
}

// BenchmarkJWTMiddleware is the handler behind the middleware with an
// HS256 or RS256 access token, the first time a token is seen (the cache is
// off) and again (cached); compare with BenchmarkBareHandler.
func BenchmarkJWTMiddleware(b *testing.B) {
	for _, bc := range []struct {
		name  string
		alg   jwt.Algorithm
		cache int
	}{{"HS256/first", jwt.HS256, -1}, {"HS256/cached", jwt.HS256, 0}, {"RS256/first", jwt.RS256, -1}, {"RS256/cached", jwt.RS256, 0}} {
		b.Run(bc.name, func(b *testing.B) {
			f := newTokenFixture(b, bc.alg, bc.cache)
			benchmarkHandler(b, f.auth.Handler(usesPrincipal), f.token(b, keygate.ModeTest))
		})
	}
}
