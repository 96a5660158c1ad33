package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkForwardAuth is the cost of one forward-auth question inside
// keygate (an API key, nginx's form, audited in memory), without the
// network: what /auth/verify adds to a front proxy's subrequest beyond
// the HTTP exchange itself.
func BenchmarkForwardAuth(b *testing.B) {
	f := newFixture(b, http.HandlerFunc(echo), nil)
	h := f.gw.ForwardAuth()
	q := httptest.NewRequest("GET", "/auth/verify", nil)
	q.RemoteAddr = "127.0.0.1:5000"
	maps(q.Header, nginx("GET", "/orders/1", "api.example.com", bearer(f.sk)))
	q.Header.Set("X-Forwarded-Proto", "http") // as the README's nginx configuration sends it
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, q)
	if rec.Code != http.StatusOK {
		b.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, q)
	}
}
