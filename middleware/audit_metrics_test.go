package middleware_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/geo"
	"github.com/keygate/keygate/middleware"
	"github.com/keygate/keygate/ratelimit"
)

// corrupt changes the last character of key, breaking its checksum.
func corrupt(key string) string {
	if key[len(key)-1] == 'x' {
		return key[:len(key)-1] + "y"
	}
	return key[:len(key)-1] + "x"
}

// recordedMetrics is an audit.Metrics that keeps every observation.
type recordedMetrics struct {
	mu  sync.Mutex
	got []audit.RequestMetric
}

func (m *recordedMetrics) ObserveRequest(r audit.RequestMetric) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.got = append(m.got, r)
}

func (m *recordedMetrics) all() []audit.RequestMetric {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]audit.RequestMetric(nil), m.got...)
}

// countedMetrics is an audit.Metrics that only counts, allocating nothing.
type countedMetrics struct{ n atomic.Int64 }

func (m *countedMetrics) ObserveRequest(audit.RequestMetric) { m.n.Add(1) }

// countingResolver counts the lookups of the resolver it wraps.
type countingResolver struct {
	geo.Resolver
	n atomic.Int64
}

func (c *countingResolver) Country(ip netip.Addr) (string, bool, error) {
	c.n.Add(1)
	return c.Resolver.Country(ip)
}

// metricsFixture is a mux of one authenticated and one public route
// behind Audit, with keys for each outcome.
type metricsFixture struct {
	h                                 http.Handler
	ok, bad, publishable, boundIP, rl string
	metrics                           *recordedMetrics
}

func newMetricsFixture(t *testing.T, w *audit.Writer) *metricsFixture {
	t.Helper()
	m := newKeyManager(t)
	f := &metricsFixture{
		ok:          mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{Stores: []string{"store_1"}}}),
		publishable: mkKey(t, m, apikey.CreateParams{Kind: keygate.KindPublishable}),
		boundIP:     mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{AllowedIPs: []string{"203.0.113.0/24"}}}),
		rl:          mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{Account: "acct_limited"}}),
		metrics:     &recordedMetrics{},
	}
	f.bad = corrupt(f.ok)
	auth, err := middleware.New(middleware.Config{
		APIKeys: m,
		Access: middleware.AccessConfig{RateLimit: func(p keygate.Principal) ratelimit.Policy {
			if p.Account == "acct_limited" {
				return ratelimit.Policy{Name: "one", Limit: 1, Window: time.Hour}
			}
			return ratelimit.Policy{}
		}},
		Audit: middleware.AuditConfig{Writer: w, Metrics: f.metrics},
	})
	require.NoError(t, err)
	mux := http.NewServeMux()
	auth.Mount(mux, []middleware.Route{
		{Pattern: "GET /v1/orders", Handler: principalJSON},
		{Pattern: "POST /oauth/token", Public: true, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
		})},
	})
	f.h = auth.Audit(mux)
	return f
}

// metricCalls are requests through a metricsFixture and the metric each
// must give.
func metricCalls(f *metricsFixture) []struct {
	name         string
	method, path string
	key          string
	want         audit.RequestMetric
} {
	return []struct {
		name         string
		method, path string
		key          string
		want         audit.RequestMetric
	}{
		{"allowed", "GET", "/v1/orders", f.ok,
			audit.RequestMetric{AuthMethod: "api_key", Decision: audit.Allow, Reason: "ok", Route: "GET /v1/orders", Status: 200}},
		{"invalid token", "GET", "/v1/orders", f.bad,
			audit.RequestMetric{Decision: audit.Deny, Reason: "invalid_token", Route: "GET /v1/orders", Status: 401}},
		{"no credentials", "GET", "/v1/orders", "",
			audit.RequestMetric{Decision: audit.Deny, Reason: "unauthorized", Route: "GET /v1/orders", Status: 401}},
		{"publishable on a secret route", "GET", "/v1/orders", f.publishable,
			audit.RequestMetric{AuthMethod: "api_key", Decision: audit.Deny, Reason: "insufficient_scope", Route: "GET /v1/orders", Status: 403}},
		{"forbidden IP", "GET", "/v1/orders", f.boundIP,
			audit.RequestMetric{AuthMethod: "api_key", Decision: audit.Deny, Reason: "ip_forbidden", Route: "GET /v1/orders", Status: 403}},
		{"within the rate limit", "GET", "/v1/orders", f.rl,
			audit.RequestMetric{AuthMethod: "api_key", Decision: audit.Allow, Reason: "ok", Route: "GET /v1/orders", Status: 200}},
		{"rate limited", "GET", "/v1/orders", f.rl,
			audit.RequestMetric{AuthMethod: "api_key", Decision: audit.Deny, Reason: "rate_limited", Route: "GET /v1/orders", Status: 429}},
		{"public route", "POST", "/oauth/token", "",
			audit.RequestMetric{Decision: audit.Allow, Reason: "ok", Route: "POST /oauth/token", Status: 204}},
		{"no route", "GET", "/nowhere", f.ok,
			audit.RequestMetric{Decision: audit.Deny, Reason: "http_404", Status: 404}},
	}
}

func TestAuditMetrics(t *testing.T) {
	for _, withWriter := range []bool{true, false} {
		name := "metrics and writer"
		if !withWriter {
			name = "metrics without writer"
		}
		t.Run(name, func(t *testing.T) {
			var w *audit.Writer
			sink := audit.NewMemorySink(100)
			if withWriter {
				w = audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{sink}, FlushInterval: time.Millisecond})
			}
			f := newMetricsFixture(t, w)
			calls := metricCalls(f)
			for i, c := range calls {
				before := len(f.metrics.all())
				rec := serve(f.h, areq{method: c.method, path: c.path, remote: "192.0.2.10:1234", key: c.key})
				require.Equal(t, c.want.Status, rec.Code, c.name)
				got := f.metrics.all()
				require.Len(t, got, before+1, "%s: observed exactly once", c.name)
				m := got[i]
				assert.GreaterOrEqual(t, m.Latency, time.Duration(0), c.name)
				m.Latency = 0
				assert.Equal(t, c.want, m, c.name)
				if withWriter {
					assert.NotEmpty(t, rec.Header().Get("X-Request-Id"), c.name)
				} else {
					assert.Empty(t, rec.Header().Get("X-Request-Id"), "%s: no request ID without events", c.name)
				}
			}
			if !withWriter {
				return
			}
			require.NoError(t, w.Close(context.Background()))
			events := sink.Events()
			require.Len(t, events, len(calls))
			for i, e := range events {
				want := calls[i].want
				assert.Equal(t, want.AuthMethod, e.AuthMethod, calls[i].name)
				assert.Equal(t, want.Decision, e.Decision, calls[i].name)
				assert.Equal(t, want.Reason, e.Reason, calls[i].name)
				assert.Equal(t, want.Route, e.Route, calls[i].name)
				assert.Equal(t, want.Status, e.Status, calls[i].name)
			}
		})
	}
}

func TestAuditOff(t *testing.T) {
	m := newKeyManager(t)
	auth, err := middleware.New(middleware.Config{APIKeys: m})
	require.NoError(t, err)
	h := &sameHandler{}
	assert.Same(t, h, auth.Audit(h), "neither Writer nor Metrics: next unchanged")
}

// sameHandler is a handler with an identity, for assert.Same.
type sameHandler struct{}

func (*sameHandler) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusNoContent)
}

// TestAuditMetricsAllocs: metrics alone cost the request's audit state
// (one allocation), its context value and the request copy carrying it;
// no event is built.
func TestAuditMetricsAllocs(t *testing.T) {
	m := newKeyManager(t)
	metrics := &countedMetrics{}
	auth, err := middleware.New(middleware.Config{APIKeys: m, Audit: middleware.AuditConfig{Metrics: metrics}})
	require.NoError(t, err)
	h := auth.Audit(bare)
	req := httptest.NewRequest(http.MethodGet, "/v1/orders", nil)
	w := &discard{h: http.Header{}}
	allocs := testing.AllocsPerRun(100, func() { h.ServeHTTP(w, req) })
	assert.LessOrEqual(t, allocs, 3.0)
	assert.Equal(t, int64(101), metrics.n.Load()) // AllocsPerRun warms up once
}

func TestAuditCountry(t *testing.T) {
	m := newKeyManager(t)
	onlySE := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{AllowedCountries: []string{"SE"}}})
	notUS := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{DeniedCountries: []string{"US"}}})
	anywhere := mkKey(t, m, apikey.CreateParams{})
	res := &countingResolver{Resolver: geoDB(t)}
	sink := audit.NewMemorySink(100)
	w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{sink}, FlushInterval: time.Millisecond})
	auth, err := middleware.New(middleware.Config{
		APIKeys: m,
		Access:  middleware.AccessConfig{Geo: res},
		Audit:   middleware.AuditConfig{Writer: w},
	})
	require.NoError(t, err)
	h := auth.Audit(auth.Handler(principalJSON))

	tests := []struct {
		name, key, remote string
		status            int
		reason, country   string
		lookups           int64
	}{
		{"allowed country", onlySE, "89.160.20.112:1", 200, "ok", "SE", 1},
		{"country not allowed", onlySE, "216.160.83.57:1", 403, "geo_forbidden", "US", 1},
		{"denied country", notUS, "216.160.83.57:1", 403, "geo_forbidden", "US", 1},
		{"IPv6", notUS, "[2a02:ec0::1]:1", 200, "ok", "DE", 1},
		{"record without a country", onlySE, "1.2.3.4:1", 403, "geo_forbidden", "", 1},
		{"address outside the database", onlySE, "81.2.70.1:1", 403, "geo_forbidden", "", 1},
		{"no country rule: no lookup", anywhere, "89.160.20.112:1", 200, "ok", "", 0},
		{"invalid key: no lookup", corrupt(onlySE), "89.160.20.112:1", 401, "invalid_token", "", 0},
	}
	for _, tt := range tests {
		before := res.n.Load()
		rec := serve(h, areq{remote: tt.remote, key: tt.key})
		require.Equal(t, tt.status, rec.Code, tt.name)
		assert.Equal(t, tt.lookups, res.n.Load()-before, "%s: lookups", tt.name)
	}
	require.NoError(t, w.Close(context.Background()))
	events := sink.Events()
	require.Len(t, events, len(tests))
	for i, e := range events {
		assert.Equal(t, tests[i].reason, e.Reason, tests[i].name)
		assert.Equal(t, tests[i].country, e.Country, tests[i].name)
	}
}

// TestAuditCountryOneLookup: service-wide and per-credential country rules
// share one lookup.
func TestAuditCountryOneLookup(t *testing.T) {
	m := newKeyManager(t)
	notUS := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{DeniedCountries: []string{"US"}}})
	europe, err := geo.ParseRules(geo.RulesConfig{Allow: []string{"SE", "DE"}})
	require.NoError(t, err)
	res := &countingResolver{Resolver: geoDB(t)}
	sink := audit.NewMemorySink(10)
	w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{sink}, FlushInterval: time.Millisecond})
	auth, err := middleware.New(middleware.Config{
		APIKeys: m,
		Access:  middleware.AccessConfig{Geo: res, Countries: europe},
		Audit:   middleware.AuditConfig{Writer: w},
	})
	require.NoError(t, err)
	h := auth.Audit(auth.Handler(principalJSON))
	assert.Equal(t, http.StatusOK, serve(h, areq{remote: "89.160.20.112:1", key: notUS}).Code)
	assert.Equal(t, int64(1), res.n.Load())
	require.NoError(t, w.Close(context.Background()))
	events := sink.Events()
	require.Len(t, events, 1)
	assert.Equal(t, "SE", events[0].Country)
}
