package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/gateway"
	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/middleware"
	"github.com/keygate/keygate/ratelimit"
)

// hmSecret is the shared secret of the HMAC credential "hk_1".
var hmSecret = bytes.Repeat([]byte{0x5a, 0xc3}, 32)

// credentials is a static httpsig.CredentialSource with one credential.
type credentials struct{}

func (credentials) Lookup(_ context.Context, keyID string) (httpsig.Active, error) {
	if keyID != "hk_1" {
		return httpsig.Active{}, httpsig.ErrNotFound
	}
	return httpsig.Active{KeyID: "hk_1", Grant: keygate.Grant{
		Account: "acct_1",
		Mode:    keygate.ModeTest,
		Package: "GO",
		Stores:  []string{"store_1"},
	}, Secrets: [][]byte{bytes.Clone(hmSecret)}}, nil
}

// echo is the upstream: it answers with what it received.
type echoed struct {
	Method string
	Path   string
	Host   string
	Body   string
	Header http.Header
}

func echo(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(echoed{r.Method, r.URL.RequestURI(), r.Host, string(body), r.Header})
}

// fixture is a gateway over real middleware with memory stores, in front
// of an echoing upstream.
type fixture struct {
	keys     *apikey.Manager
	issuer   *jwt.Issuer
	auth     *middleware.Authenticator
	gw       *gateway.Gateway
	events   *audit.Writer
	sink     *audit.MemorySink
	upstream *httptest.Server
	proxy    *httptest.Server // gw.Proxy(), reached from loopback

	sk, skID, pk, limited string
	bound                 string // a key that may be used from 198.51.100.0/24 only
}

// routes of the fixture; {up} is replaced by the upstream.
func fixtureRoutes(up *url.URL) []gateway.Route {
	return []gateway.Route{
		{Pattern: "GET /orders/{id}", Rule: middleware.Rule{Permission: "orders:read"}, Upstream: up},
		{Pattern: "POST /orders", Rule: middleware.Rule{}, Upstream: up},
		{Pattern: "GET /products", Rule: middleware.Rule{Publishable: true}, Upstream: up},
		{Pattern: "GET /payouts", Rule: middleware.Rule{Mode: keygate.ModeLive}},
		{Pattern: "GET /credential", Rule: middleware.Rule{}, Upstream: up, ForwardCredentials: true},
		{Pattern: "/events", Rule: middleware.Rule{}, Upstream: up},
		{Pattern: "GET /ws", Rule: middleware.Rule{}, Upstream: up},
		{Pattern: "GET /auth-only", Rule: middleware.Rule{}},
	}
}

func newFixture(t testing.TB, upstream http.Handler, mod func(*gateway.Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{sink: audit.NewMemorySink(1000)}
	f.events = audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{f.sink}})
	t.Cleanup(func() { f.events.Close(context.Background()) })
	var err error
	f.keys, err = apikey.NewManager(apikey.Config{})
	require.NoError(t, err)
	create := func(account string, kind keygate.Kind, allowedIPs []string, perms ...string) (string, string) {
		k, _, err := f.keys.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{
			Account:     account,
			Mode:        keygate.ModeTest,
			Stores:      []string{"store_1"},
			Package:     "GO",
			Permissions: perms,
			AllowedIPs:  allowedIPs,
		}, Kind: kind,
		})
		require.NoError(t, err)
		return k.Reveal(), k.ID()
	}
	f.sk, f.skID = create("acct_1", keygate.KindSecret, nil, "orders:read")
	f.pk, _ = create("acct_1", keygate.KindPublishable, nil)
	f.limited, _ = create("acct_limited", keygate.KindSecret, nil)
	f.bound, _ = create("acct_1", keygate.KindSecret, []string{"198.51.100.0/24"}, "orders:read")

	jwk, err := jwt.GenerateKey("k1", jwt.HS256)
	require.NoError(t, err)
	set, err := jwt.NewKeySet(jwk)
	require.NoError(t, err)
	f.issuer, err = jwt.NewIssuer(jwt.IssuerConfig{Keys: set, Issuer: "https://keygate.test", Audience: "api"})
	require.NoError(t, err)
	tokens, err := jwt.NewVerifier(jwt.VerifierConfig{Keys: set, Issuer: "https://keygate.test", Audience: "api"})
	require.NoError(t, err)
	sigs, err := httpsig.NewVerifier(httpsig.VerifierConfig{Authorities: httpsig.AnyAuthority, Credentials: credentials{}})
	require.NoError(t, err)
	var cfg gateway.Config
	if mod != nil {
		mod(&cfg)
	}
	clientIP, err := gateway.NewClientIPResolver(cfg.TrustedProxies)
	require.NoError(t, err)
	f.auth, err = middleware.New(middleware.Config{
		APIKeys: f.keys, Tokens: tokens, Signatures: sigs,
		Access: middleware.AccessConfig{ClientIP: clientIP, RateLimit: func(p keygate.Principal) ratelimit.Policy {
			if p.Account == "acct_limited" {
				return ratelimit.Policy{Name: "tight", Limit: 1, Window: time.Hour}
			}
			return ratelimit.Policy{}
		}},
		Audit: middleware.AuditConfig{Writer: f.events},
	})
	require.NoError(t, err)

	if upstream == nil {
		upstream = http.HandlerFunc(echo)
	}
	f.upstream = httptest.NewServer(upstream)
	t.Cleanup(f.upstream.Close)
	up, err := url.Parse(f.upstream.URL)
	require.NoError(t, err)
	cfg.Auth, cfg.Routes, cfg.EnvoyPrefix = f.auth, fixtureRoutes(up), "/auth/verify"
	f.gw, err = gateway.New(cfg)
	require.NoError(t, err)
	f.proxy = httptest.NewServer(f.gw.Proxy())
	t.Cleanup(f.proxy.Close)
	return f
}

// token issues an access token for acct_1.
func (f *fixture) token(t *testing.T) string {
	t.Helper()
	tok, _, err := f.issuer.Issue(t.Context(), jwt.Claims{Subject: "user_7", ClientID: "client_1", Scope: "orders:read",
		Grant: keygate.Grant{
			Account:     "acct_1",
			Mode:        keygate.ModeTest,
			Package:     "GO",
			Permissions: []string{"orders:read"},
			Stores:      []string{"store_1"},
		}, ClientKind: keygate.KindSecret})
	require.NoError(t, err)
	return tok
}

// sign signs r (whose body is body) with the credential hk_1.
func sign(t *testing.T, r *http.Request, body []byte) {
	t.Helper()
	require.NoError(t, (&httpsig.Signer{KeyID: "hk_1", Secret: hmSecret}).Sign(r, body))
}

// verify asks the forward-auth endpoint about a request, as the proxy at
// peer would, with the question's headers h.
func (f *fixture) verify(peer string, h http.Header) *httptest.ResponseRecorder {
	q := httptest.NewRequest("GET", "/auth/verify", nil)
	q.RemoteAddr = peer
	maps(q.Header, h)
	rec := httptest.NewRecorder()
	f.gw.ForwardAuth().ServeHTTP(rec, q)
	return rec
}

func maps(dst, src http.Header) {
	for k, v := range src {
		dst[k] = v
	}
}

// traefik is how Traefik and Caddy describe a request to host.
func traefik(method, uri, host string, cred http.Header) http.Header {
	h := http.Header{"X-Forwarded-Method": {method}, "X-Forwarded-Uri": {uri}, "X-Forwarded-Host": {host}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-For": {"198.51.100.7"}}
	maps(h, cred)
	return h
}

// nginx is how the documented nginx configuration describes a request.
func nginx(method, uri, host string, cred http.Header) http.Header {
	h := http.Header{"X-Original-Method": {method}, "X-Original-Uri": {uri}, "X-Forwarded-Host": {host}}
	maps(h, cred)
	return h
}

func bearer(cred string) http.Header {
	return http.Header{"Authorization": {"Bearer " + cred}}
}

const loopback = "127.0.0.1:40000"

// identity is the identity headers of a response or request.
func identity(h http.Header) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		if strings.HasPrefix(k, "X-Keygate-") {
			out[k] = strings.Join(v, ",")
		}
	}
	return out
}

// apikeyParams is a secret test key of account with orders:read.
func apikeyParams(account string) apikey.CreateParams {
	return apikey.CreateParams{Grant: keygate.Grant{
		Account:     account,
		Mode:        keygate.ModeTest,
		Stores:      []string{"store_1"},
		Package:     "GO",
		Permissions: []string{"orders:read"},
	}, Kind: keygate.KindSecret,
	}
}

// refusalCase is a request that the middleware refuses.
type refusalCase struct {
	name, method, uri string
	rule              middleware.Rule // the rule of the route uri matches
	cred              http.Header
	want              int
}

// refusalCases are requests that routes with an upstream refuse.
func (f *fixture) refusalCases(t *testing.T) []refusalCase {
	t.Helper()
	revoked, _, err := f.keys.Create(t.Context(), apikeyParams("acct_1"))
	require.NoError(t, err)
	_, err = f.keys.Revoke(t.Context(), revoked.ID())
	require.NoError(t, err)
	read := middleware.Rule{Permission: "orders:read"}
	return []refusalCase{
		{"no credentials", "GET", "/orders/1", read, nil, http.StatusUnauthorized},
		{"unknown key", "GET", "/orders/1", read, bearer("bk_test_sk_nope"), http.StatusUnauthorized},
		{"revoked key", "GET", "/orders/1", read, bearer(revoked.Reveal()), http.StatusUnauthorized},
		{"publishable key", "POST", "/orders", middleware.Rule{}, bearer(f.pk), http.StatusForbidden},
		{"no permission", "GET", "/orders/1", read, bearer(f.limited), http.StatusForbidden},
		{"two authorizations", "GET", "/orders/1", read, http.Header{"Authorization": {"Bearer a", "Bearer b"}}, http.StatusBadRequest},
		{"key in query", "GET", "/orders/1?api_key=x", read, bearer(f.sk), http.StatusBadRequest},
	}
}

// assertMiddlewareAnswer checks that a gateway's answer to tc is the one
// the middleware gives on its own: status, body and challenge, and no
// identity.
func (f *fixture) assertMiddlewareAnswer(t *testing.T, tc refusalCase, status int, h http.Header, body string) {
	t.Helper()
	r := httptest.NewRequest(tc.method, tc.uri, nil)
	maps(r.Header, tc.cred)
	want := httptest.NewRecorder()
	f.auth.Require(tc.rule)(http.NotFoundHandler()).ServeHTTP(want, r)
	require.Equal(t, tc.want, want.Code)
	assert.Equal(t, want.Code, status)
	assert.Equal(t, want.Body.String(), body)
	assert.Equal(t, want.Header().Values("WWW-Authenticate"), h.Values("WWW-Authenticate"))
	assert.Empty(t, identity(h))
}
