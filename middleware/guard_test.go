package middleware_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/geo"
	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/middleware"
	"github.com/keygate/keygate/ratelimit"
)

// guardReq is a request from remote, as an endpoint outside Require sees
// it.
func guardReq(remote string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/oauth/token", nil)
	r.RemoteAddr = remote
	return r
}

// Failures counted through the guard (as the OAuth endpoints count them)
// block the address behind Require, and failures behind Require block it
// at the guard: one budget per address.
func TestGuardSharesFailureBudget(t *testing.T) {
	auth, valid, clock := threeFailuresAuth(t)
	h := auth.Handler(bare)

	const a, b = "198.51.100.1:1000", "198.51.100.2:1000"
	wait, blocked, err := auth.Blocked(guardReq(a))
	require.NoError(t, err)
	assert.False(t, blocked)
	assert.Zero(t, wait)
	for range 3 {
		auth.Failed(guardReq(a))
	}
	wait, blocked, err = auth.Blocked(guardReq(a))
	require.NoError(t, err)
	assert.True(t, blocked, "three failures through the guard")
	assert.Equal(t, 20*time.Second, wait, "one failure is regained every 20 s")
	rec := serve(h, areq{remote: "198.51.100.1:2000", key: valid})
	assertRefused(t, rec, 429, "too_many_failures", "blocked at the guard, so blocked behind Require")
	assert.Equal(t, "20", rec.Header().Get("Retry-After"))

	for i := range 3 {
		assert.Equal(t, 401, serve(h, areq{remote: b, key: badKey(valid, i)}).Code)
	}
	_, blocked, err = auth.Blocked(guardReq(b))
	require.NoError(t, err)
	assert.True(t, blocked, "blocked behind Require, so blocked at the guard")

	_, blocked, _ = auth.Blocked(guardReq("198.51.100.3:1"))
	assert.False(t, blocked, "another address is unaffected")
	clock.advance(20 * time.Second)
	_, blocked, _ = auth.Blocked(guardReq(a))
	assert.False(t, blocked, "one failure regained")
}

func TestGuardSentinels(t *testing.T) {
	clock := newAccessClock()
	m := newKeyManager(t)
	valid := mkKey(t, m, apikey.CreateParams{})
	auth := newAccessAuth(t, m, middleware.AccessConfig{
		Limiter:      ratelimit.NewMemoryLimiter(ratelimit.MemoryConfig{Now: clock.Now}),
		AuthFailures: ratelimit.Policy{Limit: 1, Window: time.Minute},
		RateLimit: func(keygate.Principal) ratelimit.Policy {
			return ratelimit.Policy{Name: "p", Limit: 1, Window: time.Minute}
		},
	})
	p := keygate.Principal{KeyID: "k", Account: "acct_1"}
	require.NoError(t, auth.Allow(t.Context(), httptest.NewRecorder(), p))
	w := httptest.NewRecorder()
	err := auth.Allow(t.Context(), w, p)
	require.ErrorIs(t, err, middleware.ErrRateLimited)
	assert.Equal(t, middleware.Failure{Status: 429, Code: "rate_limited", Description: "too many requests; retry after the time in Retry-After"}, middleware.Classify(err))
	assert.Equal(t, "60", w.Header().Get("Retry-After"))
	assert.Equal(t, `"p";q=1;w=60`, w.Header().Get("RateLimit-Policy"))

	// Behind Require the refusals wrap the sentinels too.
	var got []error
	h := (func() http.Handler {
		a, err := middleware.New(middleware.Config{APIKeys: m, Access: middleware.AccessConfig{
			Limiter:      ratelimit.NewMemoryLimiter(ratelimit.MemoryConfig{Now: clock.Now}),
			AuthFailures: ratelimit.Policy{Limit: 1, Window: time.Minute},
		}, ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			got = append(got, err)
			middleware.Classify(err).Write(w, "keygate")
		}})
		require.NoError(t, err)
		return a.Handler(bare)
	})()
	serve(h, areq{remote: "192.0.2.1:1", key: badKey(valid, 1)})
	assertRefused(t, serve(h, areq{remote: "192.0.2.1:1", key: valid}), 429, "too_many_failures")
	require.Len(t, got, 2)
	assert.ErrorIs(t, got[1], middleware.ErrTooManyFailures)
	assert.Equal(t, 429, middleware.Classify(middleware.ErrTooManyFailures).Status)
}

// CheckOrigin decides as Require does, for every kind of rule: the key's
// allowed and denied addresses and countries, and the service's country
// rules.
func TestGuardCheckOriginIsRequires(t *testing.T) {
	m := newKeyManager(t)
	countries, err := geo.ParseRules(geo.RulesConfig{Deny: []string{"DE"}})
	require.NoError(t, err)
	auth := newAccessAuth(t, m, middleware.AccessConfig{Geo: geoDB(t), Countries: countries, AuthFailures: ratelimit.Policy{Limit: -1}})
	h := auth.Handler(bare)
	origins := []keygate.Grant{
		{},
		{AllowedIPs: []string{"203.0.113.0/24"}, DeniedIPs: []string{"203.0.113.66"}},
		{DeniedIPs: []string{"198.51.100.0/24"}},
		{AllowedCountries: []string{"SE"}},
		{DeniedCountries: []string{"US"}},
	}
	remotes := []string{"[2a02:ec0::5]:1", "203.0.113.9:1", "203.0.113.66:1", "198.51.100.7:1", "89.160.20.112:1", "216.160.83.57:1", "1.2.3.4:1", "@"}
	for _, o := range origins {
		key := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{AllowedIPs: o.AllowedIPs, DeniedIPs: o.DeniedIPs, AllowedCountries: o.AllowedCountries, DeniedCountries: o.DeniedCountries}})
		for _, remote := range remotes {
			rec := serve(h, areq{remote: remote, key: key})
			_, err := auth.CheckOrigin(guardReq(remote), o)
			if rec.Code == http.StatusNoContent {
				assert.NoError(t, err, "%+v from %s", o, remote)
				continue
			}
			if assert.ErrorIs(t, err, middleware.ErrForbidden, "%+v from %s: Require answered %d", o, remote, rec.Code) {
				assert.Equal(t, errorCode(t, rec), middleware.Classify(err).Code, "%+v from %s", o, remote)
			}
		}
	}
	// The service's country rule applies to a credential without rules.
	country, err := auth.CheckOrigin(guardReq("[2a02:ec0::1]:1"), keygate.Grant{})
	assert.ErrorIs(t, err, middleware.ErrForbidden)
	assert.Equal(t, "DE", country)
	// A list that does not parse admits nobody.
	_, err = auth.CheckOrigin(guardReq("192.0.2.1:1"), keygate.Grant{AllowedIPs: []string{"not an address"}})
	assert.ErrorIs(t, err, middleware.ErrForbidden)
}

// accountSignatures is a RequestVerifier that accepts every signed request as
// the credential k-hmac of acct_1.
type accountSignatures struct{}

func (accountSignatures) Verify(*http.Request) (httpsig.Active, error) {
	return httpsig.Active{KeyID: "k-hmac", Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeLive, Package: "GO"}}, nil
}

// RequiresHeader claims every header is signed: the stub checks nothing.
func (accountSignatures) RequiresHeader(string) bool { return true }

// An account's API key, HMAC credential and access token draw from one
// budget: the policy is per account.
func TestRateLimitOneBudgetPerAccount(t *testing.T) {
	clock := newAccessClock()
	m := newKeyManager(t)
	apiKey := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{Mode: keygate.ModeLive, Account: "acct_1"}})
	other := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{Mode: keygate.ModeLive, Account: "acct_2"}})
	signing, err := jwt.GenerateKey("k1", jwt.HS256)
	require.NoError(t, err)
	set, err := jwt.NewKeySet(signing)
	require.NoError(t, err)
	issuer, err := jwt.NewIssuer(jwt.IssuerConfig{Keys: set, Issuer: "https://kg.test", Audience: "api"})
	require.NoError(t, err)
	verifier, err := jwt.NewVerifier(jwt.VerifierConfig{Keys: set, Issuer: "https://kg.test", Audience: "api"})
	require.NoError(t, err)
	token, _, err := issuer.Issue(t.Context(), jwt.Claims{Subject: "user_1", ClientID: "k-client", Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeLive, Package: "GO"}, ClientKind: keygate.KindSecret})
	require.NoError(t, err)

	auth, err := middleware.New(middleware.Config{APIKeys: m, Tokens: verifier, Signatures: accountSignatures{}, Access: middleware.AccessConfig{
		Limiter: ratelimit.NewMemoryLimiter(ratelimit.MemoryConfig{Now: clock.Now}),
		RateLimit: func(keygate.Principal) ratelimit.Policy {
			return ratelimit.Policy{Name: "live", Limit: 6, Window: time.Minute}
		},
	}})
	require.NoError(t, err)
	h := auth.Handler(bare)
	signed := http.Header{"Signature-Input": {`sig1=("@method");keyid="k-hmac"`}, "Signature": {"sig1=:AAAA:"}}
	requests := []areq{
		{remote: "192.0.2.1:1", key: apiKey},
		{remote: "192.0.2.1:1", header: signed},
		{remote: "192.0.2.1:1", key: token},
	}
	for round := range 2 {
		for i, q := range requests {
			assert.Equal(t, http.StatusNoContent, serve(h, q).Code, "round %d, credential %d", round, i)
		}
	}
	// The account's six requests are used, whichever credential asks.
	for i, q := range requests {
		assertRefused(t, serve(h, q), 429, "rate_limited", "credential %d", i)
	}
	// Allow, as the token endpoint calls it, counts in the same budget.
	err = auth.Allow(t.Context(), httptest.NewRecorder(), keygate.Principal{Method: keygate.MethodAPIKey, KeyID: "k-other", Account: "acct_1"})
	assert.True(t, errors.Is(err, middleware.ErrRateLimited), "%v", err)
	// Another account has its own budget.
	assert.Equal(t, http.StatusNoContent, serve(h, areq{remote: "192.0.2.1:1", key: other}).Code)
}

// sharedLimiter stands for a limiter that instances share (Redis): it is
// not a *ratelimit.MemoryLimiter, so an instance cannot know from its own
// failures whether an address is blocked.
type sharedLimiter struct{ *ratelimit.MemoryLimiter }

// An address blocked through one instance is blocked on another instance
// on the same shared limiter, though that one never saw a failure.
func TestFailuresBlockAcrossInstances(t *testing.T) {
	clock := newAccessClock()
	m := newKeyManager(t)
	valid := mkKey(t, m, apikey.CreateParams{})
	shared := sharedLimiter{ratelimit.NewMemoryLimiter(ratelimit.MemoryConfig{Now: clock.Now})}
	ac := middleware.AccessConfig{Limiter: shared, AuthFailures: ratelimit.Policy{Limit: 3, Window: time.Minute}}
	a, b := newAccessAuth(t, m, ac).Handler(bare), newAccessAuth(t, m, ac).Handler(bare)
	for i := range 3 {
		require.Equal(t, 401, serve(a, areq{remote: "198.51.100.1:1", key: badKey(valid, i)}).Code)
	}
	assertRefused(t, serve(a, areq{remote: "198.51.100.1:1", key: valid}), 429, "too_many_failures")
	assertRefused(t, serve(b, areq{remote: "198.51.100.1:1", key: valid}), 429, "too_many_failures", "the other instance")
	assert.Equal(t, http.StatusNoContent, serve(b, areq{remote: "198.51.100.2:1", key: valid}).Code)
}

// TestFailuresCountPerIPv6Prefix: the addresses of one IPv6 /64 share one
// budget of failed authentications (one client holds the whole prefix);
// another /64 has its own.
func TestFailuresCountPerIPv6Prefix(t *testing.T) {
	auth, valid, _ := threeFailuresAuth(t)
	h := auth.Handler(bare)
	for i := range 3 {
		remote := fmt.Sprintf("[2001:db8:1:2::%x]:1000", i+1) // a new address each time
		assert.Equal(t, 401, serve(h, areq{remote: remote, key: badKey(valid, i)}).Code)
	}
	rec := serve(h, areq{remote: "[2001:db8:1:2:ffff::9]:1000", key: valid})
	assertRefused(t, rec, 429, "too_many_failures", "another address of the same /64")
	assert.Equal(t, 204, serve(h, areq{remote: "[2001:db8:1:3::1]:1000", key: valid}).Code, "another /64")
	assert.Equal(t, 204, serve(h, areq{remote: "198.51.100.7:1000", key: valid}).Code, "IPv4 as before")
}

// threeFailuresAuth returns an Authenticator that blocks an address after
// three failed authentications a minute (one regained every 20 s, on
// the returned clock), and a valid key of it.
func threeFailuresAuth(t *testing.T) (*middleware.Authenticator, string, *accessClock) {
	t.Helper()
	clock := newAccessClock()
	m := newKeyManager(t)
	valid := mkKey(t, m, apikey.CreateParams{})
	return newAccessAuth(t, m, middleware.AccessConfig{
		Limiter:      ratelimit.NewMemoryLimiter(ratelimit.MemoryConfig{Now: clock.Now}),
		AuthFailures: ratelimit.Policy{Limit: 3, Window: time.Minute},
	}), valid, clock
}
