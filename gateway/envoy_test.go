package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Envoy's question is the original request at the prefix: a client's own
// X-Forwarded-Uri, X-Original-URI, X-Forwarded-Method or X-Forwarded-Host
// (which Envoy passes on with the other client headers) must not replace
// the path, method or host Envoy asks about.
func TestForwardAuthEnvoyIgnoresClientForwardedHeaders(t *testing.T) {
	f := newFixture(t, nil, nil)
	for name, h := range map[string]http.Header{
		"X-Forwarded-Uri":    {"X-Forwarded-Uri": {"/orders/1"}},
		"X-Original-Uri":     {"X-Original-Uri": {"/orders/1"}},
		"both, with methods": {"X-Forwarded-Uri": {"/orders/1"}, "X-Original-Uri": {"/orders/1"}, "X-Forwarded-Method": {"GET"}},
	} {
		t.Run(name, func(t *testing.T) {
			// The real request: GET /payouts, which a test key may not call.
			q := httptest.NewRequest("GET", "/auth/verify/payouts", nil)
			q.RemoteAddr = loopback
			maps(q.Header, bearer(f.sk))
			maps(q.Header, h)
			rec := httptest.NewRecorder()
			f.gw.ForwardAuth().ServeHTTP(rec, q)
			assert.NotEqual(t, http.StatusOK, rec.Code, rec.Body.String())
		})
	}
	// The method: Envoy asks with the original one (DELETE, no route).
	q := httptest.NewRequest("DELETE", "/auth/verify/orders/1", nil)
	q.RemoteAddr = loopback
	maps(q.Header, bearer(f.sk))
	q.Header.Set("X-Original-Method", "GET")
	rec := httptest.NewRecorder()
	f.gw.ForwardAuth().ServeHTTP(rec, q)
	assert.NotEqual(t, http.StatusOK, rec.Code, "X-Original-Method replaced Envoy's method")
}
