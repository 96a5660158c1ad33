package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/middleware"
)

// discard is a ResponseWriter that keeps nothing, so that the benchmarks
// measure the middleware rather than a recorder.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

var bare = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusNoContent)
})

// usesPrincipal reads the Principal as a real handler would.
var usesPrincipal = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if p, ok := keygate.FromContext(r.Context()); !ok || p.Account == "" {
		panic("no principal")
	}
	w.WriteHeader(http.StatusNoContent)
})

func benchmarkHandler(b *testing.B, h http.Handler, key string) {
	req := httptest.NewRequest(http.MethodGet, "/v1/orders", nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	w := &discard{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
}

// BenchmarkBareHandler is the baseline for BenchmarkAPIKeyMiddleware.
func BenchmarkBareHandler(b *testing.B) {
	benchmarkHandler(b, bare, "")
}

// BenchmarkAPIKeyMiddleware is the handler behind the API-key middleware,
// with a valid secret key; its cost over BenchmarkBareHandler is what the
// middleware adds per request.
func BenchmarkAPIKeyMiddleware(b *testing.B) {
	f := newPlainFixture(b)
	benchmarkHandler(b, f.auth.Handler(usesPrincipal), f.testSK)
}

// BenchmarkAPIKeyMiddlewareParallel is the same from every core.
func BenchmarkAPIKeyMiddlewareParallel(b *testing.B) {
	f := newPlainFixture(b)
	h := f.auth.Handler(usesPrincipal)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest(http.MethodGet, "/v1/orders", nil)
		req.Header.Set("Authorization", "Bearer "+f.testSK)
		w := &discard{h: http.Header{}}
		for pb.Next() {
			h.ServeHTTP(w, req)
		}
	})
}

// BenchmarkAPIKeyMiddlewareRejected measures refusing a key with a bad
// checksum, the cheapest path for garbage and brute force.
func BenchmarkAPIKeyMiddlewareRejected(b *testing.B) {
	f := newPlainFixture(b)
	h := f.auth.Require(middleware.Rule{})(usesPrincipal)
	bad := f.testSK[:len(f.testSK)-1] + "0"
	if bad == f.testSK {
		bad = f.testSK[:len(f.testSK)-1] + "1"
	}
	benchmarkHandler(b, h, bad)
}
