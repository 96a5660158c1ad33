package middleware_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/geo"
	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/internal/testpackages"
	"github.com/keygate/keygate/ipbind"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/middleware"
	"github.com/keygate/keygate/ratelimit"
)

// accessClock is a settable clock shared by the limiter of a test.
type accessClock struct {
	mu  sync.Mutex
	now time.Time
}

func newAccessClock() *accessClock { return &accessClock{now: time.Unix(1_700_000_000, 0)} }

func (c *accessClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *accessClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newKeyManager returns an empty API-key manager on the memory store.
func newKeyManager(t testing.TB) *apikey.Manager {
	t.Helper()
	m, err := apikey.NewManager(apikey.Config{Store: apikey.NewMemoryStore()})
	require.NoError(t, err)
	return m
}

// mkKey creates a key; the zero Mode and Kind mean a test secret key, the
// empty Account "acct_1". Live keys are approved.
func mkKey(t testing.TB, m *apikey.Manager, p apikey.CreateParams) string {
	t.Helper()
	if p.Account == "" {
		p.Account = "acct_1"
	}
	if p.Mode == "" {
		p.Mode = keygate.ModeTest
	}
	if p.Kind == "" {
		p.Kind = keygate.KindSecret
	}
	k, _, err := m.Create(context.Background(), p)
	require.NoError(t, err)
	if p.Mode == keygate.ModeLive {
		_, err = m.Approve(context.Background(), k.ID(), "reviewer")
		require.NoError(t, err)
	}
	return k.Reveal()
}

// newAccessAuth returns an Authenticator over m with the access config.
func newAccessAuth(t testing.TB, m *apikey.Manager, ac middleware.AccessConfig) *middleware.Authenticator {
	t.Helper()
	a, err := middleware.New(middleware.Config{APIKeys: m, Access: ac})
	require.NoError(t, err)
	return a
}

// areq describes one request.
type areq struct {
	method, path string
	remote       string // RemoteAddr
	key          string // bearer credential, none when empty
	header       http.Header
}

func serve(h http.Handler, q areq) *httptest.ResponseRecorder {
	if q.method == "" {
		q.method = http.MethodGet
	}
	if q.path == "" {
		q.path = "/"
	}
	req := httptest.NewRequest(q.method, q.path, nil)
	req.RemoteAddr = q.remote
	for k, v := range q.header {
		req.Header[k] = v
	}
	if q.key != "" {
		req.Header.Set("Authorization", "Bearer "+q.key)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// errorCode returns the "error" member of a JSON failure body.
func errorCode(t testing.TB, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var body struct {
		Error string `json:"error"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
	return body.Error
}

// principalOf decodes the body of principalJSON.
func principalOf(t testing.TB, rec *httptest.ResponseRecorder) keygate.Principal {
	t.Helper()
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var p keygate.Principal
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p), rec.Body.String())
	return p
}

func assertRefused(t testing.TB, rec *httptest.ResponseRecorder, status int, code string, msgAndArgs ...any) {
	t.Helper()
	if assert.Equal(t, status, rec.Code, append(msgAndArgs, rec.Body.String())...) {
		assert.Equal(t, code, errorCode(t, rec), msgAndArgs...)
		assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	}
}

func spoofHeaders(ip string) http.Header {
	return http.Header{
		"X-Forwarded-For": {ip},
		"Forwarded":       {"for=" + ip},
		"X-Real-Ip":       {ip},
	}
}

// 1. Client IP.

func TestAccessClientIPIgnoresForwardingHeadersWithoutTrustedProxies(t *testing.T) {
	m := newKeyManager(t)
	open := mkKey(t, m, apikey.CreateParams{})
	bound := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{AllowedIPs: []string{"203.0.113.0/24"}}})
	noProxies, err := ipbind.NewResolver(ipbind.Config{})
	require.NoError(t, err)
	for name, resolver := range map[string]*ipbind.Resolver{"nil resolver": nil, "resolver without proxies": noProxies} {
		t.Run(name, func(t *testing.T) {
			h := newAccessAuth(t, m, middleware.AccessConfig{ClientIP: resolver}).Handler(principalJSON)
			for _, spoof := range []http.Header{
				spoofHeaders("203.0.113.5"),
				{"X-Forwarded-For": {"203.0.113.5, 203.0.113.6"}},
				{"Forwarded": {`for="[2001:db8::1]:443"`}},
				{"X-Forwarded-For": {"10.0.0.1"}, "Forwarded": {"for=10.0.0.1"}},
			} {
				p := principalOf(t, serve(h, areq{remote: "198.51.100.7:4711", key: open, header: spoof}))
				assert.Equal(t, netip.MustParseAddr("198.51.100.7"), p.ClientIP, "%v", spoof)

				// An IP-bound key stays refused from an outside peer that
				// claims an allowed address.
				assertRefused(t, serve(h, areq{remote: "198.51.100.7:4711", key: bound, header: spoof}), 403, "ip_forbidden", "%v", spoof)
			}
			// IPv6 peer, IPv4-mapped peer.
			p := principalOf(t, serve(h, areq{remote: "[2001:db8::7]:443", key: open, header: spoofHeaders("203.0.113.5")}))
			assert.Equal(t, netip.MustParseAddr("2001:db8::7"), p.ClientIP)
			p = principalOf(t, serve(h, areq{remote: "[::ffff:203.0.113.9]:443", key: bound}))
			assert.Equal(t, netip.MustParseAddr("203.0.113.9"), p.ClientIP, "IPv4-mapped peer is unmapped")
		})
	}
}

func TestAccessClientIPThroughTrustedProxies(t *testing.T) {
	m := newKeyManager(t)
	open := mkKey(t, m, apikey.CreateParams{})
	bound := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{AllowedIPs: []string{"203.0.113.0/24"}}})
	resolver, err := ipbind.NewResolver(ipbind.Config{TrustedProxies: []string{"10.0.0.0/8", "fd00::/8"}})
	require.NoError(t, err)
	h := newAccessAuth(t, m, middleware.AccessConfig{ClientIP: resolver}).Handler(principalJSON)

	tests := []struct {
		name   string
		remote string
		header http.Header
		client string // "" when unknown
	}{
		{"XFF from a trusted proxy", "10.1.2.3:5000", http.Header{"X-Forwarded-For": {"203.0.113.5"}}, "203.0.113.5"},
		{"Forwarded from a trusted proxy", "10.1.2.3:5000", http.Header{"Forwarded": {"for=203.0.113.5;proto=https"}}, "203.0.113.5"},
		{"both agreeing", "10.1.2.3:5000", http.Header{"X-Forwarded-For": {"203.0.113.5"}, "Forwarded": {"for=203.0.113.5"}}, "203.0.113.5"},
		{"chain of trusted hops", "10.1.2.3:5000", http.Header{"X-Forwarded-For": {"203.0.113.5, 10.9.9.9, 10.8.8.8"}}, "203.0.113.5"},
		{"client-supplied left part is ignored", "10.1.2.3:5000", http.Header{"X-Forwarded-For": {"203.0.113.99, 198.51.100.4"}}, "198.51.100.4"},
		{"IPv6 proxy, quoted IPv6 with port", "[fd00::1]:443", http.Header{"Forwarded": {`for="[2001:db8::5]:4711"`}}, "2001:db8::5"},
		{"untrusted peer: headers ignored", "198.51.100.7:5000", http.Header{"X-Forwarded-For": {"203.0.113.5"}}, "198.51.100.7"},
		{"no header: the proxy itself", "10.1.2.3:5000", nil, "10.1.2.3"},
		{"disagreeing headers: unknown", "10.1.2.3:5000", http.Header{"X-Forwarded-For": {"203.0.113.5"}, "Forwarded": {"for=203.0.113.6"}}, ""},
		{"for=unknown: unknown", "10.1.2.3:5000", http.Header{"Forwarded": {"for=unknown"}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(h, areq{remote: tc.remote, key: open, header: tc.header})
			p := principalOf(t, rec)
			if tc.client == "" {
				assert.False(t, p.ClientIP.IsValid(), "client IP %v", p.ClientIP)
			} else {
				assert.Equal(t, netip.MustParseAddr(tc.client), p.ClientIP)
			}
			rec = serve(h, areq{remote: tc.remote, key: bound, header: tc.header})
			if strings.HasPrefix(tc.client, "203.0.113.") {
				assert.Equal(t, 200, rec.Code, rec.Body.String())
			} else {
				assertRefused(t, rec, 403, "ip_forbidden")
			}
		})
	}
}

// 2. IP binding per credential.

func TestAccessIPBindingAPIKeys(t *testing.T) {
	m := newKeyManager(t)
	both := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{AllowedIPs: []string{"192.0.2.0/24", "2001:db8:1::/48"}}})
	single := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{AllowedIPs: []string{"203.0.113.9"}}})
	mapped := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{AllowedIPs: []string{"::ffff:198.51.100.0/120"}}})
	open := mkKey(t, m, apikey.CreateParams{})
	h := newAccessAuth(t, m, middleware.AccessConfig{}).Handler(principalJSON)

	tests := []struct {
		key    string
		remote string
		ok     bool
	}{
		{both, "192.0.2.1:1", true},
		{both, "192.0.2.255:1", true},
		{both, "192.0.2", false},
		{both, "192.0.3.1:1", false},
		{both, "[::ffff:192.0.2.77]:1", true},
		{both, "[2001:db8:1::1]:443", true},
		{both, "[2001:db8:1:ffff:ffff:ffff:ffff:ffff]:443", true},
		{both, "[2001:db8:2::1]:443", false},
		{both, "[fe80::1%eth0]:443", false},
		{both, "garbage", false}, // unknown client with a rule: deny
		{both, "", false},        // same
		{single, "203.0.113.9:1", true},
		{single, "203.0.113.10:1", false},
		{single, "[2001:db8:1::1]:1", false},
		{mapped, "198.51.100.200:1", true}, // an IPv4-mapped entry matches IPv4 clients
		{mapped, "198.51.101.1:1", false},
		{open, "198.51.101.1:1", true},
		{open, "[2001:db8:9::1]:1", true},
		{open, "garbage", true}, // no rule: an unknown address is fine
	}
	for i, tc := range tests {
		rec := serve(h, areq{remote: tc.remote, key: tc.key})
		if tc.ok {
			assert.Equal(t, 200, rec.Code, "case %d %s: %s", i, tc.remote, rec.Body.String())
		} else {
			assertRefused(t, rec, 403, "ip_forbidden", "case %d %s", i, tc.remote)
			assert.Empty(t, rec.Header().Get("WWW-Authenticate"), "ip_forbidden is no RFC 6750 code")
		}
	}
}

// A key is bound only once the binding parses: apikey accepts AllowedIPs that
// ipbind refuses (host bits set, zones), and such a key then refuses every
// request. The key must either be refused at creation or work from inside
// its prefix.
func TestAccessIPBindingAcceptedListsAreUsable(t *testing.T) {
	m := newKeyManager(t)
	h := newAccessAuth(t, m, middleware.AccessConfig{}).Handler(principalJSON)
	for _, tc := range []struct{ entry, remote string }{
		{"192.0.2.5/24", "192.0.2.5:1"},
		{"2001:db8::5/64", "[2001:db8::5]:1"},
		{"fe80::1%eth0", "[fe80::1%eth0]:1"},
	} {
		k, _, err := m.Create(context.Background(), apikey.CreateParams{Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest, AllowedIPs: []string{tc.entry}}, Kind: keygate.KindSecret})
		if err != nil {
			continue // refused at creation: consistent
		}
		rec := serve(h, areq{remote: tc.remote, key: k.Reveal()})
		assert.Equal(t, 200, rec.Code, "apikey accepted AllowedIPs %q, yet the key is refused from %s: %s", tc.entry, tc.remote, rec.Body.String())
	}
}

func TestAccessIPBindingAccessTokens(t *testing.T) {
	f := newTokenFixture(t, jwt.HS256, 0)
	auth, err := middleware.New(middleware.Config{APIKeys: f.keys, Tokens: f.verifier})
	require.NoError(t, err)
	h := auth.Handler(principalJSON)
	issue := func(ips ...string) string {
		tok, _, err := f.issuer.Issue(t.Context(), jwt.Claims{Subject: "acct_1", ClientID: "0jPS8MolTrPGFJph", Grant: keygate.Grant{
			Account:    "acct_1",
			Mode:       keygate.ModeTest,
			Package:    "GO",
			AllowedIPs: ips,
		},
			ClientKind: keygate.KindSecret})
		require.NoError(t, err)
		return tok
	}
	anchored := issue("192.0.2.10")
	v6 := issue("2001:db8::/32")
	free := issue()
	for _, tc := range []struct {
		tok, remote string
		ok          bool
	}{
		{anchored, "192.0.2.10:1", true},
		{anchored, "192.0.2.11:1", false},
		{v6, "[2001:db8:ffff::1]:1", true},
		{v6, "[2001:db9::1]:1", false},
		{v6, "192.0.2.10:1", false},
		{free, "192.0.2.11:1", true},
	} {
		// Same client ID for every token: the middleware's per-key cache
		// must not leak one token's binding to another.
		rec := serve(h, areq{remote: tc.remote, key: tc.tok, header: spoofHeaders("192.0.2.10")})
		if tc.ok {
			assert.Equal(t, 200, rec.Code, "%s: %s", tc.remote, rec.Body.String())
		} else {
			assertRefused(t, rec, 403, "ip_forbidden", tc.remote)
		}
	}
}

// stubSignatures is a RequestVerifier that accepts every signed request as
// its credential.
type stubSignatures struct{ cred httpsig.Active }

func (s stubSignatures) Verify(*http.Request) (httpsig.Active, error) { return s.cred, nil }

// RequiresHeader claims every header is signed: the stub checks nothing.
func (stubSignatures) RequiresHeader(string) bool { return true }

func TestAccessIPBindingHMAC(t *testing.T) {
	for _, tc := range []struct {
		remote string
		ok     bool
	}{
		{"192.0.2.10:1", true},
		{"[2001:db8::1]:1", true},
		{"192.0.2.11:1", false},
		{"[2001:db9::1]:1", false},
	} {
		cred := httpsig.Active{KeyID: "hk_1", Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest, AllowedIPs: []string{"192.0.2.10/32", "2001:db8::/32"}}}
		auth, err := middleware.New(middleware.Config{Signatures: stubSignatures{cred}})
		require.NoError(t, err)
		rec := serve(auth.Handler(principalJSON), areq{remote: tc.remote, header: http.Header{
			"Signature-Input": {`sig=("@method");keyid="hk_1"`}, "Signature": {"sig=:AAAA:"},
			"X-Forwarded-For": {"192.0.2.10"},
		}})
		if tc.ok {
			assert.Equal(t, keygate.MethodHMAC, principalOf(t, rec).Method)
		} else {
			assertRefused(t, rec, 403, "ip_forbidden", tc.remote)
		}
	}
}

// 3. Geographic rules.

// geoDB builds a small country database: SE, US, DE (IPv6), and a network
// whose record has no country.
func geoDB(t testing.TB) *geo.MMDB {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-Country", RecordSize: 24})
	require.NoError(t, err)
	rec := func(iso string) mmdbtype.Map {
		m := mmdbtype.Map{"continent": mmdbtype.Map{"code": mmdbtype.String("EU")}}
		if iso != "" {
			m["country"] = mmdbtype.Map{"iso_code": mmdbtype.String(iso)}
		}
		return m
	}
	for cidr, iso := range map[string]string{
		"89.160.20.0/24":   "SE",
		"216.160.83.56/29": "US",
		"2a02:ec0::/29":    "DE",
		"2a02:2e0::/29":    "SE",
		"1.2.3.0/24":       "",
	} {
		_, n, err := net.ParseCIDR(cidr)
		require.NoError(t, err)
		require.NoError(t, tree.Insert(n, rec(iso)), cidr)
	}
	var buf bytes.Buffer
	_, err = tree.WriteTo(&buf)
	require.NoError(t, err)
	db, err := geo.FromBytes(buf.Bytes())
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestAccessGeoRules(t *testing.T) {
	m := newKeyManager(t)
	key := mkKey(t, m, apikey.CreateParams{})
	db := geoDB(t)
	onlySE, err := geo.ParseRules(geo.RulesConfig{Allow: []string{"SE"}})
	require.NoError(t, err)
	onlySEOrUnknown, err := geo.ParseRules(geo.RulesConfig{Allow: []string{"SE"}, AllowUnknown: true})
	require.NoError(t, err)
	notUS, err := geo.ParseRules(geo.RulesConfig{Deny: []string{"US"}})
	require.NoError(t, err)

	tests := []struct {
		rules  geo.Rules
		remote string
		ok     bool
	}{
		{onlySE, "89.160.20.112:1", true},
		{onlySE, "[2a02:2e0::1]:1", true},
		{onlySE, "[::ffff:89.160.20.1]:1", true},
		{onlySE, "216.160.83.57:1", false},
		{onlySE, "[2a02:ec0::1]:1", false},
		{onlySE, "81.2.70.1:1", false}, // not in the database
		{onlySE, "1.2.3.4:1", false},   // a record without a country
		{onlySE, "garbage", false},     // unknown client IP
		{onlySEOrUnknown, "81.2.70.1:1", true},
		{onlySEOrUnknown, "1.2.3.4:1", true},
		{onlySEOrUnknown, "216.160.83.57:1", false},
		{notUS, "216.160.83.57:1", false},
		{notUS, "89.160.20.112:1", true},
		{notUS, "[2a02:ec0::1]:1", true},
	}
	for i, tc := range tests {
		h := newAccessAuth(t, m, middleware.AccessConfig{Countries: tc.rules, Geo: db}).Handler(principalJSON)
		// A spoofed header from an untrusted peer does not move the client.
		rec := serve(h, areq{remote: tc.remote, key: key, header: spoofHeaders("89.160.20.112")})
		if tc.ok {
			assert.Equal(t, 200, rec.Code, "case %d %s: %s", i, tc.remote, rec.Body.String())
		} else {
			assertRefused(t, rec, 403, "geo_forbidden", "case %d %s", i, tc.remote)
		}
	}

	// The forwarded client decides behind a trusted proxy.
	resolver, err := ipbind.NewResolver(ipbind.Config{TrustedProxies: []string{"10.0.0.0/8"}})
	require.NoError(t, err)
	h := newAccessAuth(t, m, middleware.AccessConfig{ClientIP: resolver, Countries: onlySE, Geo: db}).Handler(principalJSON)
	assert.Equal(t, 200, serve(h, areq{remote: "10.0.0.1:1", key: key, header: http.Header{"X-Forwarded-For": {"89.160.20.112"}}}).Code)
	assertRefused(t, serve(h, areq{remote: "10.0.0.1:1", key: key, header: http.Header{"X-Forwarded-For": {"216.160.83.57"}}}), 403, "geo_forbidden")

	// Countries without a resolver is a configuration error.
	_, err = middleware.New(middleware.Config{APIKeys: m, Access: middleware.AccessConfig{Countries: onlySE}})
	assert.Error(t, err)
}

// 4. Packages and permissions.

// demoRoutes are the reference server's routes with the package and
// permission the retail product's package table implies.
var demoRoutes = []struct {
	method, path string
	rule         middleware.Rule
}{
	{"GET", "/v1/stores", middleware.Rule{Permission: "stores:read", Package: testpackages.Discover}},
	{"GET", "/v1/products", middleware.Rule{Permission: "products:read", Package: testpackages.Discover, Publishable: true}},
	{"POST", "/v1/products", middleware.Rule{Permission: "products:write", Package: testpackages.Discover}},
	{"POST", "/v1/chat/messages", middleware.Rule{Permission: "chat:write", Package: testpackages.Assist}},
	{"POST", "/v1/offers", middleware.Rule{Permission: "offers:write", Package: testpackages.Go}},
	{"POST", "/v1/checkout/start", middleware.Rule{Permission: "checkout:start", Package: testpackages.Grow}},
	{"POST", "/v1/checkout/confirm", middleware.Rule{Permission: "checkout:confirm", Package: testpackages.Grow}},
	{"GET", "/v1/analytics/export", middleware.Rule{Permission: "analytics:export", Package: testpackages.Prime}},
}

func demoMux(auth *middleware.Authenticator, extra ...middleware.Route) *http.ServeMux {
	var table []middleware.Route
	for _, r := range demoRoutes {
		table = append(table, middleware.Route{Pattern: r.method + " " + r.path, Rule: r.rule, Handler: principalJSON})
	}
	table = append(table, extra...)
	mux := http.NewServeMux()
	auth.Mount(mux, table)
	return mux
}

func TestAccessPackageMatrix(t *testing.T) {
	packages := testpackages.Retail()
	all := packages.Permissions(testpackages.Prime)
	m := newKeyManager(t)
	auth := newAccessAuth(t, m, middleware.AccessConfig{Packages: packages})
	mux := demoMux(auth)
	packageNames := packages.Names()
	require.Equal(t, []string{"DISCOVER", "ASSIST", "GO", "GROW", "PRIME"}, packageNames)
	rank := func(name string) int {
		for i, n := range packageNames {
			if n == name {
				return i
			}
		}
		return -1
	}
	for _, pkg := range append(append([]string{}, packageNames...), "", "ENTERPRISE", "prime") {
		key := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{Package: pkg, Permissions: all}})
		for _, rt := range demoRoutes {
			rec := serve(mux, areq{method: rt.method, path: rt.path, remote: "192.0.2.1:1", key: key})
			reaches := rank(pkg) >= 0 && rank(pkg) >= rank(rt.rule.Package)
			if reaches {
				p := principalOf(t, rec)
				assert.Equal(t, pkg, p.Package)
			} else {
				assertRefused(t, rec, 403, "insufficient_scope", "package %q on %s %s", pkg, rt.method, rt.path)
			}
		}
	}

	// The retail product's own cases.
	goKey := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{Package: testpackages.Go, Permissions: all}})
	primeKey := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{Package: testpackages.Prime, Permissions: all}})
	assert.Equal(t, 200, serve(mux, areq{method: "POST", path: "/v1/offers", key: goKey}).Code)
	assert.Equal(t, 403, serve(mux, areq{method: "POST", path: "/v1/checkout/start", key: goKey}).Code)
	assert.Equal(t, 403, serve(mux, areq{method: "GET", path: "/v1/analytics/export", key: goKey}).Code)
	for _, p := range []string{"POST /v1/offers", "POST /v1/checkout/start", "GET /v1/analytics/export"} {
		method, path, _ := strings.Cut(p, " ")
		assert.Equal(t, 200, serve(mux, areq{method: method, path: path, key: primeKey}).Code, p)
	}

	// A publishable key, even of PRIME, reaches only the publishable route.
	pk := mkKey(t, m, apikey.CreateParams{Kind: keygate.KindPublishable, Grant: keygate.Grant{Package: testpackages.Prime, Permissions: all}})
	for _, rt := range demoRoutes {
		rec := serve(mux, areq{method: rt.method, path: rt.path, key: pk})
		if rt.rule.Publishable {
			assert.Equal(t, 200, rec.Code, "%s %s", rt.method, rt.path)
		} else {
			assertRefused(t, rec, 403, "insufficient_scope", "publishable key on %s %s", rt.method, rt.path)
		}
	}
}

func TestAccessPermissions(t *testing.T) {
	packages := testpackages.Retail()
	m := newKeyManager(t)
	auth := newAccessAuth(t, m, middleware.AccessConfig{Packages: packages})
	mux := demoMux(auth,
		middleware.Route{Pattern: "GET /v1/stores/{store}", Rule: middleware.Rule{Permission: "stores:read:{entity}", EntityPathValue: "store"}, Handler: principalJSON},
		middleware.Route{Pattern: "GET /admin", Rule: middleware.Rule{Permission: "admin:read"}, Handler: principalJSON},
		middleware.Route{Pattern: "GET /health", Public: true, Handler: bare},
	)
	prime := func(perms ...string) string {
		return mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{Package: testpackages.Prime, Permissions: perms}})
	}
	tests := []struct {
		name   string
		perms  []string
		method string
		path   string
		ok     bool
	}{
		{"permission held", []string{"offers:write"}, "POST", "/v1/offers", true},
		{"permission missing", []string{"products:read", "offers:read"}, "POST", "/v1/offers", false},
		{"no permissions: the package's", nil, "GET", "/v1/products", true},
		{"no permissions: never admin", nil, "GET", "/admin", false},
		{"module wildcard", []string{"offers:*"}, "POST", "/v1/offers", true},
		{"full wildcard", []string{"*:*"}, "GET", "/v1/analytics/export", true},
		{"Admin vs admin", []string{"Admin:read"}, "GET", "/admin", false},
		{"lower-case admin", []string{"admin:read"}, "GET", "/admin", true},
		{"malformed entry poisons the list", []string{"offers:write", "Admin:read"}, "POST", "/v1/offers", false},
		{"malformed: empty part", []string{"offers::write"}, "POST", "/v1/offers", false},
		{"malformed: four parts", []string{"offers:write:a:b"}, "POST", "/v1/offers", false},
		{"entity granted", []string{"stores:read:store_42"}, "GET", "/v1/stores/store_42", true},
		{"other entity", []string{"stores:read:store_42"}, "GET", "/v1/stores/store_43", false},
		{"entity wildcard", []string{"stores:read:*"}, "GET", "/v1/stores/store_43", true},
		{"entity grant does not cover the module", []string{"stores:read:store_42"}, "GET", "/v1/stores", false},
		{"unscoped grant covers entities", []string{"stores:read"}, "GET", "/v1/stores/store_43", true},
	}
	for _, tc := range tests {
		rec := serve(mux, areq{method: tc.method, path: tc.path, key: prime(tc.perms...)})
		if tc.ok {
			assert.Equal(t, 200, rec.Code, "%s: %s", tc.name, rec.Body.String())
		} else {
			assertRefused(t, rec, 403, "insufficient_scope", tc.name)
		}
	}
	assert.Equal(t, http.StatusNoContent, serve(mux, areq{path: "/health"}).Code, "public route without credentials")

	// A rule that cannot compile is a start-up panic.
	assert.Panics(t, func() { auth.Require(middleware.Rule{Package: "PLATINUM"}) })
	assert.Panics(t, func() { auth.Require(middleware.Rule{Permission: "Admin:read"}) })
	// Check (for non-middleware callers) fails closed on such a rule.
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer "+prime("*:*"))
	_, err := auth.Check(req, middleware.Rule{Package: "PLATINUM"})
	assert.ErrorIs(t, err, middleware.ErrInsufficientScope)
	p, err := auth.Check(req, middleware.Rule{Permission: "offers:write", Package: testpackages.Go})
	require.NoError(t, err)
	assert.Equal(t, testpackages.Prime, p.Package)
}

// 5. Rate limits.

var primePolicy = ratelimit.Policy{Name: "live", Limit: 20, Window: 10 * time.Second}

// retailRateLimit is the reference server's rule: test mode unlimited, live
// by package.
func retailRateLimit(p keygate.Principal) ratelimit.Policy {
	if p.Mode == keygate.ModeTest {
		return ratelimit.Policy{}
	}
	if p.Package == testpackages.Prime {
		return primePolicy
	}
	return ratelimit.Policy{Name: "live", Limit: 100, Window: time.Minute}
}

// countingHandler counts the requests that reach it.
func countingHandler(n *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(http.StatusOK)
	})
}

func TestAccessRateLimitPrime(t *testing.T) {
	parsed, err := ratelimit.ParsePolicy("20/10s")
	require.NoError(t, err)
	require.Equal(t, primePolicy.Limit, parsed.Limit)
	require.Equal(t, primePolicy.Window, parsed.Window)

	clock := newAccessClock()
	m := newKeyManager(t)
	live := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{Mode: keygate.ModeLive, Package: testpackages.Prime}})
	test := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{Package: testpackages.Prime}})
	auth := newAccessAuth(t, m, middleware.AccessConfig{
		Limiter:   ratelimit.NewMemoryLimiter(ratelimit.MemoryConfig{Now: clock.Now}),
		RateLimit: retailRateLimit,
	})
	var reached atomic.Int64
	h := auth.Handler(countingHandler(&reached))

	for i := 1; i <= 20; i++ {
		rec := serve(h, areq{remote: "192.0.2.1:1", key: live})
		require.Equal(t, 200, rec.Code, "request %d: %s", i, rec.Body.String())
		assert.Equal(t, `"live";q=20;w=10`, rec.Header().Get("RateLimit-Policy"), "request %d", i)
		// 0.5 s of quota is used per request; t is rounded up.
		want := fmt.Sprintf(`"live";r=%d;t=%d`, 20-i, (i+1)/2)
		assert.Equal(t, want, rec.Header().Get("RateLimit"), "request %d", i)
		assert.Empty(t, rec.Header().Get("Retry-After"))
	}
	rec := serve(h, areq{remote: "192.0.2.1:1", key: live})
	assertRefused(t, rec, 429, "rate_limited")
	assert.Equal(t, "1", rec.Header().Get("Retry-After"))
	assert.Equal(t, `"live";r=0;t=10`, rec.Header().Get("RateLimit"))
	assert.Equal(t, `"live";q=20;w=10`, rec.Header().Get("RateLimit-Policy"))
	assert.Equal(t, int64(20), reached.Load(), "the 21st request must not reach the handler")

	// Refusals use no quota: half a second later one more request passes.
	for range 5 {
		assert.Equal(t, 429, serve(h, areq{remote: "192.0.2.1:1", key: live}).Code)
	}
	clock.advance(500 * time.Millisecond)
	assert.Equal(t, 200, serve(h, areq{remote: "192.0.2.1:1", key: live}).Code)
	assert.Equal(t, 429, serve(h, areq{remote: "192.0.2.1:1", key: live}).Code)
	// A full window later the whole burst is back.
	clock.advance(10 * time.Second)
	for i := range 20 {
		assert.Equal(t, 200, serve(h, areq{remote: "192.0.2.1:1", key: live}).Code, "after the window, request %d", i+1)
	}
	assert.Equal(t, 429, serve(h, areq{remote: "192.0.2.1:1", key: live}).Code)

	// Rate-limit refusals are no authentication failures: the client IP is
	// not blocked after many of them.
	for range 150 {
		serve(h, areq{remote: "192.0.2.1:1", key: live})
	}
	clock.advance(11 * time.Second)
	assert.Equal(t, 200, serve(h, areq{remote: "192.0.2.1:1", key: live}).Code)

	// Test mode: unlimited, no headers.
	for i := range 500 {
		rec := serve(h, areq{remote: "192.0.2.1:1", key: test})
		require.Equal(t, 200, rec.Code, "test-mode request %d", i+1)
		require.Empty(t, rec.Header().Get("RateLimit"))
		require.Empty(t, rec.Header().Get("RateLimit-Policy"))
	}
}

func TestAccessRateLimitByAccount(t *testing.T) {
	for _, byAccount := range []bool{false, true} {
		t.Run(fmt.Sprintf("byAccount=%v", byAccount), func(t *testing.T) {
			clock := newAccessClock()
			m := newKeyManager(t)
			a1 := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{Mode: keygate.ModeLive, Account: "acct_a", Package: testpackages.Prime}})
			a2 := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{Mode: keygate.ModeLive, Account: "acct_a", Package: testpackages.Prime}})
			b := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{Mode: keygate.ModeLive, Account: "acct_b", Package: testpackages.Prime}})
			h := newAccessAuth(t, m, middleware.AccessConfig{
				Limiter:                ratelimit.NewMemoryLimiter(ratelimit.MemoryConfig{Now: clock.Now}),
				RateLimit:              retailRateLimit,
				RateLimitPerCredential: !byAccount,
			}).Handler(bare)
			pass := func(key string, n int) int {
				ok := 0
				for range n {
					if serve(h, areq{remote: "192.0.2.1:1", key: key}).Code == http.StatusNoContent {
						ok++
					}
				}
				return ok
			}
			assert.Equal(t, 12, pass(a1, 12))
			if byAccount {
				assert.Equal(t, 8, pass(a2, 12), "the second key of the account gets what is left")
			} else {
				assert.Equal(t, 12, pass(a2, 12), "each key has its own quota")
			}
			assert.Equal(t, 20, pass(b, 25), "another account is unaffected")
		})
	}
}

func TestAccessRateLimitConcurrent(t *testing.T) {
	clock := newAccessClock() // frozen: exactly one burst is available
	m := newKeyManager(t)
	live := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{Mode: keygate.ModeLive, Package: testpackages.Prime}})
	other := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{Mode: keygate.ModeLive, Package: testpackages.Prime, Account: "acct_2"}})
	var reached atomic.Int64
	h := newAccessAuth(t, m, middleware.AccessConfig{
		Limiter:   ratelimit.NewMemoryLimiter(ratelimit.MemoryConfig{Now: clock.Now}),
		RateLimit: retailRateLimit,
	}).Handler(countingHandler(&reached))

	const goroutines, each = 32, 8
	var ok, limited, otherCodes [2]atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		key, idx := live, 0
		if g%4 == 3 {
			key, idx = other, 1
		}
		wg.Go(func() {
			for range each {
				switch rec := serve(h, areq{remote: "192.0.2.1:1", key: key}); rec.Code {
				case 200:
					ok[idx].Add(1)
				case 429:
					limited[idx].Add(1)
				default:
					otherCodes[idx].Add(1)
				}
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(20), ok[0].Load())
	assert.Equal(t, int64(20), ok[1].Load())
	assert.Equal(t, int64(goroutines*3/4*each-20), limited[0].Load())
	assert.Equal(t, int64(goroutines/4*each-20), limited[1].Load())
	assert.Zero(t, otherCodes[0].Load()+otherCodes[1].Load())
	assert.Equal(t, int64(40), reached.Load())
}

// 6. Failed authentications per client IP.

// badKey returns a syntactically plausible key that fails verification.
func badKey(valid string, i int) string {
	return valid[:len(valid)-6] + fmt.Sprintf("%06d", i)
}

func TestAccessAuthFailureLimit(t *testing.T) {
	clock := newAccessClock()
	m := newKeyManager(t)
	valid := mkKey(t, m, apikey.CreateParams{})
	resolver, err := ipbind.NewResolver(ipbind.Config{TrustedProxies: []string{"10.0.0.0/8"}})
	require.NoError(t, err)
	var reached atomic.Int64
	h := newAccessAuth(t, m, middleware.AccessConfig{
		ClientIP: resolver,
		Limiter:  ratelimit.NewMemoryLimiter(ratelimit.MemoryConfig{Now: clock.Now}),
	}).Handler(countingHandler(&reached))

	const attacker = "198.51.100.66:4000"
	for i := range 100 {
		rec := serve(h, areq{remote: attacker, key: badKey(valid, i)})
		require.Equal(t, 401, rec.Code, "failure %d: %s", i+1, rec.Body.String())
	}
	rec := serve(h, areq{remote: attacker, key: valid})
	assertRefused(t, rec, 429, "too_many_failures")
	retry, err := strconv.Atoi(rec.Header().Get("Retry-After"))
	require.NoError(t, err, "Retry-After %q", rec.Header().Get("Retry-After"))
	assert.GreaterOrEqual(t, retry, 1)
	assert.LessOrEqual(t, retry, 60)
	assert.Zero(t, reached.Load())

	// A spoofed forwarding header from the same untrusted peer changes
	// nothing; neither does another source port.
	for _, spoof := range []http.Header{spoofHeaders("203.0.113.1"), {"X-Forwarded-For": {"10.0.0.1"}}} {
		assertRefused(t, serve(h, areq{remote: attacker, key: valid, header: spoof}), 429, "too_many_failures")
	}
	assertRefused(t, serve(h, areq{remote: "198.51.100.66:4001", key: valid}), 429, "too_many_failures")

	// Another address is unaffected.
	assert.Equal(t, 200, serve(h, areq{remote: "198.51.100.67:4000", key: valid}).Code)
	assert.Equal(t, int64(1), reached.Load())

	// Behind the trusted proxy, clients are counted apart.
	for i := range 100 {
		serve(h, areq{remote: "10.0.0.1:1", key: badKey(valid, i), header: http.Header{"X-Forwarded-For": {"203.0.113.50"}}})
	}
	assertRefused(t, serve(h, areq{remote: "10.0.0.1:1", key: valid, header: http.Header{"X-Forwarded-For": {"203.0.113.50"}}}), 429, "too_many_failures")
	assert.Equal(t, 200, serve(h, areq{remote: "10.0.0.1:1", key: valid, header: http.Header{"X-Forwarded-For": {"203.0.113.51"}}}).Code)
	assert.Equal(t, 200, serve(h, areq{remote: "10.0.0.1:1", key: valid}).Code, "the proxy itself is not blocked")

	// The budget refills with time: 100 per minute.
	clock.advance(time.Minute)
	assert.Equal(t, 200, serve(h, areq{remote: attacker, key: valid}).Code)
}

func TestAccessAuthFailureLimitConfigured(t *testing.T) {
	m := newKeyManager(t)
	valid := mkKey(t, m, apikey.CreateParams{})
	t.Run("disabled", func(t *testing.T) {
		h := newAccessAuth(t, m, middleware.AccessConfig{AuthFailures: ratelimit.Policy{Limit: -1}}).Handler(bare)
		for i := range 300 {
			require.Equal(t, 401, serve(h, areq{remote: "198.51.100.1:1", key: badKey(valid, i)}).Code)
		}
		assert.Equal(t, http.StatusNoContent, serve(h, areq{remote: "198.51.100.1:1", key: valid}).Code)
	})
	t.Run("custom", func(t *testing.T) {
		clock := newAccessClock()
		h := newAccessAuth(t, m, middleware.AccessConfig{
			AuthFailures: ratelimit.Policy{Limit: 3, Window: time.Minute},
			Limiter:      ratelimit.NewMemoryLimiter(ratelimit.MemoryConfig{Now: clock.Now}),
		}).Handler(bare)
		for i := range 3 {
			require.Equal(t, 401, serve(h, areq{remote: "198.51.100.1:1", key: badKey(valid, i)}).Code)
		}
		rec := serve(h, areq{remote: "198.51.100.1:1", key: valid})
		assertRefused(t, rec, 429, "too_many_failures")
		assert.Equal(t, "20", rec.Header().Get("Retry-After"), "one failure is regained every 20 s")
		// Refusals by the limiter are not counted as new failures.
		clock.advance(20 * time.Second)
		assert.Equal(t, http.StatusNoContent, serve(h, areq{remote: "198.51.100.1:1", key: valid}).Code)
	})
	t.Run("forbidden is no failure", func(t *testing.T) {
		bound := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{AllowedIPs: []string{"192.0.2.1"}}})
		h := newAccessAuth(t, m, middleware.AccessConfig{AuthFailures: ratelimit.Policy{Limit: 3, Window: time.Minute}}).Handler(bare)
		for range 10 {
			assert.Equal(t, 403, serve(h, areq{remote: "198.51.100.1:1", key: bound}).Code)
		}
		assert.Equal(t, http.StatusNoContent, serve(h, areq{remote: "198.51.100.1:1", key: valid}).Code)
	})
}

// A client that makes its address unknown must not escape the failure
// limit. Behind a trusted proxy that appends to X-Forwarded-For only, a
// client can add its own Forwarded header: the two disagree, the client IP
// is unknown (ipbind rule 8), and failures are then neither counted nor
// checked, so brute force against keys without an IP binding is unbounded.
func TestAccessAuthFailuresUnknownClientStillBounded(t *testing.T) {
	m := newKeyManager(t)
	valid := mkKey(t, m, apikey.CreateParams{})
	resolver, err := ipbind.NewResolver(ipbind.Config{TrustedProxies: []string{"10.0.0.0/8"}})
	require.NoError(t, err)
	h := newAccessAuth(t, m, middleware.AccessConfig{ClientIP: resolver, AuthFailures: ratelimit.Policy{Limit: 5, Window: time.Hour}}).Handler(bare)
	// The proxy appended the real client 203.0.113.7; the client sent the
	// Forwarded header itself.
	attack := http.Header{"X-Forwarded-For": {"203.0.113.7"}, "Forwarded": {"for=192.0.2.200"}}
	for i := range 5 {
		require.Equal(t, 401, serve(h, areq{remote: "10.0.0.1:1", key: badKey(valid, i), header: attack}).Code)
	}
	rec := serve(h, areq{remote: "10.0.0.1:1", key: valid, header: attack})
	assert.Equal(t, 429, rec.Code, "failures with an unknown client address are not bounded")

	// The same with a peer address that does not parse.
	h = newAccessAuth(t, m, middleware.AccessConfig{AuthFailures: ratelimit.Policy{Limit: 5, Window: time.Hour}}).Handler(bare)
	for i := range 5 {
		require.Equal(t, 401, serve(h, areq{remote: "@", key: badKey(valid, i)}).Code)
	}
	assert.Equal(t, 429, serve(h, areq{remote: "@", key: valid}).Code, "failures from an unparsable peer are not bounded")
}
