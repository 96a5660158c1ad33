package middleware_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/middleware"
	"github.com/keygate/keygate/ratelimit"
)

// stubTokens verifies the access tokens it holds, by their text.
type stubTokens map[string]jwt.Claims

func (s stubTokens) Verify(_ context.Context, token string) (jwt.Claims, error) {
	if c, ok := s[token]; ok {
		return c, nil
	}
	return jwt.Claims{}, jwt.ErrSignature
}

// refusalFixture is a mux behind Require and Audit with a route for each
// kind of refusal, and the audit sink the events reach.
type refusalFixture struct {
	auth    *middleware.Authenticator
	mux     *http.ServeMux
	writer  *audit.Writer
	sink    *audit.MemorySink
	reached atomic.Int64 // requests that reached a handler
	keys    *apikey.Manager
}

func newRefusalFixture(t *testing.T, tokens stubTokens, cred httpsig.Active) *refusalFixture {
	t.Helper()
	f := &refusalFixture{keys: newKeyManager(t), sink: audit.NewMemorySink(1000)}
	f.writer = audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{f.sink}, FlushInterval: time.Millisecond})
	var err error
	f.auth, err = middleware.New(middleware.Config{
		APIKeys:    f.keys,
		Tokens:     tokens,
		Signatures: stubSignatures{cred},
		Access: middleware.AccessConfig{
			Geo: geoDB(t),
			RateLimit: func(p keygate.Principal) ratelimit.Policy {
				if p.Account == "acct_limited" {
					return ratelimit.Policy{Name: "one", Limit: 1, Window: time.Hour}
				}
				return ratelimit.Policy{}
			},
		},
		Audit: middleware.AuditConfig{Writer: f.writer},
	})
	require.NoError(t, err)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.reached.Add(1)
		principalJSON(w, r)
	})
	f.mux = http.NewServeMux()
	f.auth.Mount(f.mux, []middleware.Route{
		{Pattern: "GET /v1/secret", Handler: handler},
		{Pattern: "GET /v1/live", Rule: middleware.Rule{Mode: keygate.ModeLive}, Handler: handler},
		{Pattern: "GET /v1/test", Rule: middleware.Rule{Mode: keygate.ModeTest}, Handler: handler},
		{Pattern: "GET /v1/offers", Rule: middleware.Rule{Permission: "offers:write"}, Handler: handler},
	})
	return f
}

// keyID returns the ID of a key of f.
func (f *refusalFixture) keyID(t *testing.T, key string) string {
	t.Helper()
	rec, err := f.keys.Verify(context.Background(), key)
	require.NoError(t, err)
	return rec.ID
}

// events closes the writer and returns what it wrote.
func (f *refusalFixture) events(t *testing.T) []audit.Event {
	t.Helper()
	require.NoError(t, f.writer.Close(context.Background()))
	return f.sink.Events()
}

// TestAuditNamesRefusedCaller checks that a request whose credential
// verified but that a later step refused (kind, mode, store, IP, country,
// permission, rate limit) is recorded with the caller's method, key or
// token, account, mode and store, decision deny; that a request whose
// credential did not verify names nobody; and that the refused request
// reaches no handler.
func TestAuditNamesRefusedCaller(t *testing.T) {
	tokens := stubTokens{"h.p.s": {
		ClientID: "key_client", ID: "jti_1", Subject: "user_1", Grant: keygate.Grant{Account: "acct_tok", Mode: keygate.ModeTest, Stores: []string{"store_7"}, Permissions: []string{"products:read"}}, ClientKind: keygate.KindSecret}}
	cred := httpsig.Active{KeyID: "hk_1", Grant: keygate.Grant{Account: "acct_hmac", Mode: keygate.ModeTest, Stores: []string{"store_h"}}}
	f := newRefusalFixture(t, tokens, cred)
	mk := func(p apikey.CreateParams) (key, id string) {
		key = mkKey(t, f.keys, p)
		return key, f.keyID(t, key)
	}
	pk, pkID := mk(apikey.CreateParams{Kind: keygate.KindPublishable, Grant: keygate.Grant{Stores: []string{"store_1"}}})
	sk, skID := mk(apikey.CreateParams{Grant: keygate.Grant{Stores: []string{"store_1", "store_2"}}})
	live, liveID := mk(apikey.CreateParams{Grant: keygate.Grant{Account: "acct_live", Mode: keygate.ModeLive, Stores: []string{"store_l"}}})
	bound, boundID := mk(apikey.CreateParams{Grant: keygate.Grant{Account: "acct_ip", AllowedIPs: []string{"203.0.113.0/24"}}})
	sweden, swedenID := mk(apikey.CreateParams{Grant: keygate.Grant{Account: "acct_se", AllowedCountries: []string{"SE"}}})
	narrow, narrowID := mk(apikey.CreateParams{Grant: keygate.Grant{Account: "acct_narrow", Permissions: []string{"products:read"}, Stores: []string{"store_n"}}})
	limited, limitedID := mk(apikey.CreateParams{Grant: keygate.Grant{Account: "acct_limited"}})
	signed := http.Header{"Signature-Input": {`sig=("@method");keyid="hk_1"`}, "Signature": {"sig=:AAAA:"}}

	type want struct {
		status                                       int
		reason                                       string
		method, keyID, tokenID, account, mode, store string
		country                                      string
	}
	cases := []struct {
		name    string
		path    string
		key     string
		remote  string
		header  http.Header
		warmups int // requests sent first, not checked (a rate limit's budget)
		want    want
	}{
		{name: "publishable key on a secret route", path: "/v1/secret", key: pk,
			want: want{403, "insufficient_scope", "api_key", pkID, "", "acct_1", "test", "store_1", ""}},
		{name: "test key on a live route", path: "/v1/live", key: sk, header: http.Header{"X-Store-Id": {"store_2"}},
			want: want{403, "insufficient_scope", "api_key", skID, "", "acct_1", "test", "store_2", ""}},
		{name: "live key on a test route", path: "/v1/test", key: live,
			want: want{403, "insufficient_scope", "api_key", liveID, "", "acct_live", "live", "store_l", ""}},
		{name: "store not granted", path: "/v1/secret", key: sk, header: http.Header{"X-Store-Id": {"store_9"}},
			want: want{403, "insufficient_scope", "api_key", skID, "", "acct_1", "test", "store_9", ""}},
		{name: "address outside the key's", path: "/v1/secret", key: bound, remote: "192.0.2.1:1",
			want: want{403, "ip_forbidden", "api_key", boundID, "", "acct_ip", "test", "", ""}},
		{name: "country outside the key's", path: "/v1/secret", key: sweden, remote: "216.160.83.57:1",
			want: want{403, "geo_forbidden", "api_key", swedenID, "", "acct_se", "test", "", "US"}},
		{name: "permission not granted", path: "/v1/offers", key: narrow,
			want: want{403, "insufficient_scope", "api_key", narrowID, "", "acct_narrow", "test", "store_n", ""}},
		{name: "access token without the permission", path: "/v1/offers", key: "h.p.s",
			want: want{403, "insufficient_scope", "jwt", "key_client", "jti_1", "acct_tok", "test", "store_7", ""}},
		{name: "signed request on a live route", path: "/v1/live", header: signed,
			want: want{403, "insufficient_scope", "hmac", "hk_1", "", "acct_hmac", "test", "store_h", ""}},
		{name: "rate limited", path: "/v1/secret", key: limited, warmups: 1,
			want: want{429, "rate_limited", "api_key", limitedID, "", "acct_limited", "test", "", ""}},
		// Controls: a credential that did not verify names nobody.
		{name: "unknown key", path: "/v1/secret", key: corrupt(sk),
			want: want{status: 401, reason: "invalid_token"}},
		{name: "unknown token", path: "/v1/secret", key: "h.p.x",
			want: want{status: 401, reason: "invalid_token"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			send := func() *httptest.ResponseRecorder {
				q := areq{path: tc.path, key: tc.key, remote: tc.remote, header: tc.header}
				if q.remote == "" {
					q.remote = "89.160.20.112:1" // SE
				}
				return serve(f.auth.Audit(f.mux), q)
			}
			for range tc.warmups {
				require.Equal(t, http.StatusOK, send().Code)
			}
			before := f.reached.Load()
			rec := send()
			assertRefused(t, rec, tc.want.status, tc.want.reason) // the reasons here are the response codes
			assert.Equal(t, before, f.reached.Load(), "a refused request reaches no handler")
		})
	}
	// Warm-ups are allowed: the deny events are the refusals, in order.
	var refusals []audit.Event
	for _, e := range f.events(t) {
		if e.Decision == audit.Deny {
			refusals = append(refusals, e)
		}
	}
	require.Len(t, refusals, len(cases), "one deny event per refused request")
	for i, tc := range cases {
		e := refusals[i]
		got := want{e.Status, e.Reason, e.AuthMethod, e.KeyID, e.TokenID, e.Account, e.Mode, e.Store, e.Country}
		assert.Equal(t, tc.want, got, tc.name)
		assert.NotEmpty(t, e.IP, tc.name)
	}
}

// TestCheckRefusalHasNoPrincipal checks that Check keeps its contract: on
// a refusal after authentication it returns the zero Principal.
func TestCheckRefusalHasNoPrincipal(t *testing.T) {
	f := newRefusalFixture(t, stubTokens{}, httpsig.Active{})
	sk := mkKey(t, f.keys, apikey.CreateParams{Grant: keygate.Grant{Stores: []string{"store_1"}}})
	for _, rule := range []middleware.Rule{
		{Mode: keygate.ModeLive},
		{Permission: "offers:write"},
	} {
		req := httptest.NewRequest(http.MethodGet, "/v1/x", nil)
		req.Header.Set("Authorization", "Bearer "+sk)
		p, err := f.auth.Check(req, rule)
		require.True(t, errors.Is(err, middleware.ErrInsufficientScope), "%v", err)
		assert.Equal(t, keygate.Principal{}, p)
	}
}
