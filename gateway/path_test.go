package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/gateway"
	"github.com/keygate/keygate/middleware"
)

// A path whose percent-encoding hides a dot segment or a slash is matched
// by keygate against one route and, decoded (as nginx does for its
// locations and its proxy_pass with a URI, and most upstream routers do),
// served by another: /public/%2e%2e/admin/users is /admin/users. Such a
// path must not be allowed under the route its encoded form matches.
func TestEncodedPathRouteConfusion(t *testing.T) {
	f := newFixture(t, nil, nil)
	up, err := url.Parse(f.upstream.URL)
	require.NoError(t, err)
	gw, err := gateway.New(gateway.Config{Auth: f.auth, Routes: []gateway.Route{
		{Pattern: "GET /public/{rest...}", Rule: middleware.Rule{Publishable: true}, Upstream: up},
		{Pattern: "GET /files/{name}", Rule: middleware.Rule{Publishable: true}, Upstream: up},
		{Pattern: "GET /admin/{rest...}", Rule: middleware.Rule{Permission: "admin:write"}, Upstream: up},
		{Pattern: "GET /files/secret/{name}", Rule: middleware.Rule{Permission: "admin:write"}, Upstream: up},
	}})
	require.NoError(t, err)
	proxy := httptest.NewServer(gw.Proxy())
	t.Cleanup(proxy.Close)

	// Sanity: the publishable key reaches the public routes, not the admin ones.
	for _, tc := range []struct {
		uri  string
		want int
	}{
		{"/public/a", http.StatusOK},
		{"/files/a%20b", http.StatusOK},
		{"/files/a;b", http.StatusOK}, // a parameter that changes nothing
		{"/admin/users", http.StatusForbidden},
	} {
		q := httptest.NewRequest("GET", "/auth/verify", nil)
		q.RemoteAddr = loopback
		maps(q.Header, traefik("GET", tc.uri, "api.example.com", bearer(f.pk)))
		rec := httptest.NewRecorder()
		gw.ForwardAuth().ServeHTTP(rec, q)
		require.Equal(t, tc.want, rec.Code, tc.uri)
	}

	for _, uri := range []string{
		"/public/%2e%2e/admin/users",
		"/public/%2E%2E/admin/users",
		"/public/.%2e/admin/users",
		"/public/%2e/../admin/users",
		"/public/x/%2e%2e/%2e%2e/admin/users",
		"/files/secret%2Fkey",       // decoded: /files/secret/key
		"/public/..;/admin/users",   // Tomcat, Spring: /admin/users
		"/public/..%3B/admin/users", // the same, encoded
		"/files/secret;x/key",       // Tomcat, Spring: /files/secret/key
		"/public/..%5Cadmin/users",  // IIS: /admin/users
		"/public/%2e%2e%5Cadmin/users",
	} {
		t.Run(uri, func(t *testing.T) {
			q := httptest.NewRequest("GET", "/auth/verify", nil)
			q.RemoteAddr = loopback
			maps(q.Header, nginx("GET", uri, "api.example.com", bearer(f.pk)))
			rec := httptest.NewRecorder()
			gw.ForwardAuth().ServeHTTP(rec, q)
			assert.NotEqual(t, http.StatusOK, rec.Code, "forward-auth allowed %s", uri)

			r, err := http.NewRequest("GET", proxy.URL+uri, nil)
			require.NoError(t, err)
			r.Header.Set("Authorization", "Bearer "+f.pk)
			resp, err := proxy.Client().Do(r)
			require.NoError(t, err)
			resp.Body.Close()
			assert.NotEqual(t, http.StatusOK, resp.StatusCode, "the reverse proxy forwarded %s", uri)
		})
	}
}
