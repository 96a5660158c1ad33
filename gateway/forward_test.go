package gateway_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/gateway"
	"github.com/keygate/keygate/middleware"
)

func TestForwardAuthAllows(t *testing.T) {
	f := newFixture(t, nil, nil)
	signed := func(method, target string, body string) http.Header {
		r := httptest.NewRequest(method, target, strings.NewReader(body))
		sign(t, r, []byte(body))
		return r.Header
	}
	for _, tc := range []struct {
		name  string
		style func(method, uri, host string, cred http.Header) http.Header
		cred  func() http.Header
		want  map[string]string
	}{
		{"api key, traefik", traefik, func() http.Header { return bearer(f.sk) }, map[string]string{
			gateway.HeaderAccount: "acct_1", gateway.HeaderKeyID: f.skID, gateway.HeaderMode: "test",
			gateway.HeaderAuthMethod: "api_key", gateway.HeaderStore: "store_1"}},
		{"api key, nginx", nginx, func() http.Header { return bearer(f.sk) }, map[string]string{
			gateway.HeaderAccount: "acct_1", gateway.HeaderKeyID: f.skID, gateway.HeaderMode: "test",
			gateway.HeaderAuthMethod: "api_key", gateway.HeaderStore: "store_1"}},
		{"access token, traefik", traefik, func() http.Header { return bearer(f.token(t)) }, map[string]string{
			gateway.HeaderAccount: "acct_1", gateway.HeaderKeyID: "client_1", gateway.HeaderMode: "test",
			gateway.HeaderAuthMethod: "jwt", gateway.HeaderStore: "store_1", gateway.HeaderSubject: "user_7",
			gateway.HeaderScope: "orders:read"}},
		{"access token, nginx", nginx, func() http.Header { return bearer(f.token(t)) }, map[string]string{
			gateway.HeaderAccount: "acct_1", gateway.HeaderKeyID: "client_1", gateway.HeaderMode: "test",
			gateway.HeaderAuthMethod: "jwt", gateway.HeaderStore: "store_1", gateway.HeaderSubject: "user_7",
			gateway.HeaderScope: "orders:read"}},
		{"signed, traefik", traefik, func() http.Header { return signed("POST", "https://api.example.com/orders?x=1", "") }, map[string]string{
			gateway.HeaderAccount: "acct_1", gateway.HeaderKeyID: "hk_1", gateway.HeaderMode: "test",
			gateway.HeaderAuthMethod: "hmac", gateway.HeaderStore: "store_1"}},
		{"signed, nginx", nginx, func() http.Header { return signed("POST", "http://api.example.com/orders?x=1", "") }, map[string]string{
			gateway.HeaderAccount: "acct_1", gateway.HeaderKeyID: "hk_1", gateway.HeaderMode: "test",
			gateway.HeaderAuthMethod: "hmac", gateway.HeaderStore: "store_1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method, uri := "GET", "/orders/42"
			if tc.want[gateway.HeaderAuthMethod] == "hmac" {
				method, uri = "POST", "/orders?x=1" // the signed request's own
			}
			// A forged identity header of the client's is answered over.
			cred := tc.cred()
			cred.Set(gateway.HeaderAccount, "acct_forged")
			rec := f.verify(loopback, tc.style(method, uri, "api.example.com", cred))
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			assert.Equal(t, tc.want, identity(rec.Header()))
			assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
		})
	}
}

func TestForwardAuthSignatureCoversOriginalRequest(t *testing.T) {
	f := newFixture(t, nil, nil)
	for _, tc := range []struct {
		name, method, uri, host string
		want                    int
	}{
		{"as signed", "POST", "/orders?x=1", "api.example.com", http.StatusOK},
		{"another method", "GET", "/orders?x=1", "api.example.com", http.StatusForbidden}, // no route: GET /orders
		{"another query", "POST", "/orders?x=2", "api.example.com", http.StatusUnauthorized},
		{"another host", "POST", "/orders?x=1", "evil.example.com", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "https://api.example.com/orders?x=1", nil)
			sign(t, r, nil)
			rec := f.verify(loopback, traefik(tc.method, tc.uri, tc.host, r.Header))
			assert.Equal(t, tc.want, rec.Code, rec.Body.String())
		})
	}
}

// The proxies send no body to /auth/verify: a signature over a body
// cannot be checked there, and the answer says so; with the body (Envoy
// with_request_body) it is checked.
func TestForwardAuthSignedBody(t *testing.T) {
	f := newFixture(t, nil, nil)
	body := `{"sku":"A1"}`
	r := httptest.NewRequest("POST", "http://api.example.com/orders", strings.NewReader(body))
	sign(t, r, []byte(body))

	rec := f.verify(loopback, nginx("POST", "/orders", "api.example.com", r.Header))
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	var got struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	assert.Equal(t, middleware.CodeInvalidDigest, got.Error)
	assert.Contains(t, got.Description, "did not send")

	// Envoy: the original method, path after the prefix, headers and body.
	for _, tc := range []struct {
		name, body string
		want       int
	}{
		{"body forwarded", body, http.StatusOK},
		{"another body", `{"sku":"B2"}`, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "http://api.example.com/orders", strings.NewReader(body))
			sign(t, r, []byte(body))
			q := httptest.NewRequest("POST", "/auth/verify/orders", strings.NewReader(tc.body))
			q.RemoteAddr, q.Host = loopback, "api.example.com"
			maps(q.Header, r.Header)
			rec := httptest.NewRecorder()
			f.gw.ForwardAuth().ServeHTTP(rec, q)
			assert.Equal(t, tc.want, rec.Code, rec.Body.String())
			if tc.want != http.StatusOK {
				assert.Equal(t, middleware.CodeInvalidDigest, errorCode(t, rec.Body.Bytes()))
			}
		})
	}
}

// Refusals are exactly the middleware's: status, body, challenge and
// Retry-After.
func TestForwardAuthRefusalsMatchMiddleware(t *testing.T) {
	f := newFixture(t, nil, nil)
	cases := append(f.refusalCases(t),
		refusalCase{"test key, live route", "GET", "/payouts", middleware.Rule{Mode: "live"}, bearer(f.sk), http.StatusForbidden})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := f.verify(loopback, traefik(tc.method, tc.uri, "api.example.com", tc.cred))
			f.assertMiddlewareAnswer(t, tc, got.Code, got.Header(), got.Body.String())
		})
	}

	t.Run("rate limited", func(t *testing.T) {
		h := traefik("POST", "/orders", "api.example.com", bearer(f.limited))
		require.Equal(t, http.StatusOK, f.verify(loopback, h).Code)
		got := f.verify(loopback, h)
		assert.Equal(t, http.StatusTooManyRequests, got.Code)
		assert.Equal(t, middleware.Classify(middleware.ErrRateLimited).Code, errorCode(t, got.Body.Bytes()))
		assert.NotEmpty(t, got.Header().Get("Retry-After"))
	})
}

// A key revoked between two requests is refused on the second.
func TestForwardAuthRevokedOnNextRequest(t *testing.T) {
	f := newFixture(t, nil, nil)
	h := traefik("GET", "/orders/1", "api.example.com", bearer(f.sk))
	require.Equal(t, http.StatusOK, f.verify(loopback, h).Code)
	_, err := f.keys.Revoke(t.Context(), f.skID)
	require.NoError(t, err)
	rec := f.verify(loopback, h)
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Equal(t, middleware.CodeInvalidToken, errorCode(t, rec.Body.Bytes()))
}

func TestForwardAuthNoRoute(t *testing.T) {
	f := newFixture(t, nil, nil)
	for _, tc := range []struct{ method, uri string }{
		{"GET", "/nowhere"},
		{"DELETE", "/orders/1"},     // the path's route is for GET: not a 405
		{"GET", "/orders/../admin"}, // the mux would redirect: not a 301
		{"GET", "/orders"},
	} {
		t.Run(tc.method+" "+tc.uri, func(t *testing.T) {
			rec := f.verify(loopback, traefik(tc.method, tc.uri, "api.example.com", bearer(f.sk)))
			assert.Equal(t, http.StatusForbidden, rec.Code)
			assert.Equal(t, middleware.CodeInsufficientScope, errorCode(t, rec.Body.Bytes()))
			assert.Contains(t, rec.Header().Get("WWW-Authenticate"), `error="insufficient_scope"`)
			assert.Empty(t, identity(rec.Header()))
		})
	}
}

// The client address is the one the trusted proxy forwarded: a key bound
// to addresses is checked against it.
func TestForwardAuthClientAddress(t *testing.T) {
	f := newFixture(t, nil, nil)
	for _, tc := range []struct {
		peer, xff string
		want      int
	}{
		{loopback, "198.51.100.7", http.StatusOK},
		{loopback, "203.0.113.9", http.StatusForbidden},
		{loopback, "", http.StatusForbidden}, // the proxy itself
	} {
		h := traefik("GET", "/orders/1", "api.example.com", bearer(f.bound))
		h.Del("X-Forwarded-For")
		if tc.xff != "" {
			h.Set("X-Forwarded-For", tc.xff)
		}
		rec := f.verify(tc.peer, h)
		assert.Equal(t, tc.want, rec.Code, tc.xff)
		if tc.want == http.StatusForbidden {
			assert.Equal(t, middleware.CodeIPForbidden, errorCode(t, rec.Body.Bytes()))
		}
	}
}

// Questions from anything but a trusted proxy are refused, whatever they
// carry; with TrustedProxies set, loopback is not trusted either.
func TestForwardAuthUntrustedPeer(t *testing.T) {
	f := newFixture(t, nil, nil)
	h := traefik("GET", "/orders/1", "api.example.com", bearer(f.sk))
	for _, peer := range []string{"192.0.2.1:1234", "[2001:db8::1]:443", "not an address"} {
		rec := f.verify(peer, h)
		assert.Equal(t, http.StatusForbidden, rec.Code, peer)
		assert.Equal(t, gateway.CodeUntrustedProxy, errorCode(t, rec.Body.Bytes()))
		assert.Empty(t, identity(rec.Header()))
	}
	assert.Equal(t, http.StatusOK, f.verify("[::1]:1234", h).Code)

	g := newFixture(t, nil, func(c *gateway.Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} })
	h = traefik("GET", "/orders/1", "api.example.com", bearer(g.sk))
	assert.Equal(t, http.StatusForbidden, g.verify(loopback, h).Code)
	assert.Equal(t, http.StatusOK, g.verify("10.1.2.3:5555", h).Code)
}

func TestForwardAuthMalformedQuestion(t *testing.T) {
	f := newFixture(t, nil, nil)
	cred := bearer(f.sk)
	for _, tc := range []struct {
		name string
		h    http.Header
	}{
		{"nothing forwarded", cred},
		{"method alone", http.Header{"X-Forwarded-Method": {"GET"}}},
		{"absolute URI", traefik("GET", "http://evil/orders/1", "api.example.com", cred)},
		{"no leading slash", traefik("GET", "orders/1", "api.example.com", cred)},
		{"authority form", traefik("GET", "//evil/orders/1", "api.example.com", cred)},
		{"bad method", traefik("GET /", "/orders/1", "api.example.com", cred)},
		{"bad host", traefik("GET", "/orders/1", "api.example.com/x", cred)},
		{"bad proto", traefik("GET", "/orders/1", "api.example.com", http.Header{"X-Forwarded-Proto": {"gopher"}})},
		{"repeated URI", http.Header{"X-Forwarded-Uri": {"/orders/1", "/orders/2"}}},
		{"conflicting styles", http.Header{"X-Forwarded-Uri": {"/orders/1"}, "X-Original-Uri": {"/payouts"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := f.verify(loopback, tc.h)
			assert.Equal(t, http.StatusBadRequest, rec.Code)
			assert.Equal(t, middleware.CodeInvalidRequest, errorCode(t, rec.Body.Bytes()))
		})
	}
}

// Every decision is one audit event, with the original request's path,
// route and client address once the question could be read.
func TestForwardAuthAuditsEveryDecision(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.verify(loopback, traefik("GET", "/orders/1", "api.example.com", bearer(f.sk)))
	f.verify(loopback, traefik("GET", "/orders/1", "api.example.com", nil))
	f.verify(loopback, traefik("GET", "/nowhere", "api.example.com", bearer(f.sk)))
	f.verify("192.0.2.1:1", traefik("GET", "/orders/1", "api.example.com", bearer(f.sk)))
	f.verify(loopback, nil)
	require.NoError(t, f.events.Flush(t.Context()))
	type ev struct {
		decision                  audit.Decision
		reason, route, path, acct string
	}
	var got []ev
	for _, e := range f.sink.Events() {
		got = append(got, ev{e.Decision, e.Reason, e.Route, e.Path, e.Account})
	}
	assert.Equal(t, []ev{
		{audit.Allow, "ok", "GET /orders/{id}", "/orders/1", "acct_1"},
		{audit.Deny, middleware.CodeUnauthorized, "GET /orders/{id}", "/orders/1", ""},
		{audit.Deny, gateway.CodeNoRoute, "", "/nowhere", ""},
		{audit.Deny, gateway.CodeUntrustedProxy, "", "/auth/verify", ""},
		{audit.Deny, gateway.CodeBadForwardedRequest, "", "/auth/verify", ""},
	}, got)
	assert.Equal(t, "198.51.100.7", f.sink.Events()[0].IP, "the client's address, as the trusted proxy forwarded it")
}

func errorCode(t *testing.T, body []byte) string {
	t.Helper()
	var b struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	require.NoError(t, json.Unmarshal(body, &b), string(body))
	require.NotEmpty(t, b.Description)
	return b.Error
}

// Envoy asks at the prefix followed by the original path and query, with
// the original method and headers.
func TestForwardAuthEnvoy(t *testing.T) {
	f := newFixture(t, nil, nil)
	for _, tc := range []struct {
		method, target string
		want           int
	}{
		{"GET", "/auth/verify/orders/1?page=2", http.StatusOK},
		{"DELETE", "/auth/verify/orders/1", http.StatusForbidden}, // no route
		{"GET", "/auth/verifyx/orders/1", http.StatusBadRequest},  // not under the prefix
		{"GET", "/auth/verify", http.StatusBadRequest},            // nothing forwarded
	} {
		q := httptest.NewRequest(tc.method, tc.target, nil)
		q.RemoteAddr = loopback
		maps(q.Header, bearer(f.sk))
		rec := httptest.NewRecorder()
		f.gw.ForwardAuth().ServeHTTP(rec, q)
		assert.Equal(t, tc.want, rec.Code, tc.method+" "+tc.target)
		if tc.want == http.StatusOK {
			assert.Equal(t, "acct_1", rec.Header().Get(gateway.HeaderAccount))
		}
	}
}

// The original request shares the question's headers: setting its
// X-Forwarded-Proto must not change the question's, whatever the proxy
// sent.
func TestForwardAuthLeavesQuestionHeaders(t *testing.T) {
	f := newFixture(t, nil, nil)
	for _, proto := range []string{"", "http", "HTTP", "https"} {
		t.Run("proto "+proto, func(t *testing.T) {
			q := httptest.NewRequest("GET", "/auth/verify", nil)
			q.RemoteAddr = loopback
			maps(q.Header, nginx("GET", "/orders/42", "api.example.com", bearer(f.sk)))
			if proto != "" {
				q.Header.Set("X-Forwarded-Proto", proto)
			}
			before := q.Header.Clone()
			rec := httptest.NewRecorder()
			f.gw.ForwardAuth().ServeHTTP(rec, q)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			assert.Equal(t, before, q.Header)
		})
	}
}
