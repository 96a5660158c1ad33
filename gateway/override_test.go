package gateway_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Upstream frameworks (Express's method-override, Symfony, Laravel,
// ASP.NET, Google's APIs …) take X-HTTP-Method-Override and its kin for
// the method: GET /orders/42 (orders:read) with "X-HTTP-Method-Override:
// DELETE" is checked as GET and served as DELETE. A request whose override
// names another method than the one checked must not pass.
func TestMethodOverrideHeaders(t *testing.T) {
	f := newFixture(t, nil, nil)
	for _, name := range []string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override"} {
		t.Run(name, func(t *testing.T) {
			h := bearer(f.sk)
			h.Set(name, "DELETE")
			rec := f.verify(loopback, traefik("GET", "/orders/42", "api.example.com", h))
			assert.NotEqual(t, http.StatusOK, rec.Code, "forward-auth")

			resp := f.send(t, "GET", "/orders/42", "", h)
			assert.NotEqual(t, http.StatusOK, resp.StatusCode, "reverse proxy")

			// The same method is no override.
			h.Set(name, "get")
			rec = f.verify(loopback, traefik("GET", "/orders/42", "api.example.com", h))
			assert.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		})
	}
}

// IIS URL Rewrite, Zend and older Symfony take X-Original-URL and
// X-Rewrite-URL for the request target: GET /products (publishable) with
// "X-Original-URL: /orders/42" is checked as /products and routed as
// /orders/42.
func TestRewriteURLHeaders(t *testing.T) {
	f := newFixture(t, nil, nil)
	for _, name := range []string{"X-Original-Url", "X-Rewrite-Url"} {
		t.Run(name, func(t *testing.T) {
			h := bearer(f.pk)
			h.Set(name, "/orders/42")
			rec := f.verify(loopback, traefik("GET", "/products", "api.example.com", h))
			assert.NotEqual(t, http.StatusOK, rec.Code, "forward-auth")
			resp := f.send(t, "GET", "/products", "", h)
			assert.NotEqual(t, http.StatusOK, resp.StatusCode, "reverse proxy")

			h.Set(name, "/products") // the request's own target
			rec = f.verify(loopback, traefik("GET", "/products", "api.example.com", h))
			assert.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		})
	}
}
