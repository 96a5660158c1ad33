package oauth_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/ipbind"
	"github.com/keygate/keygate/middleware"
)

// TestHTTPSOnly checks that the token, revocation and introspection
// endpoints apply the guard's middleware.Config.HTTPSOnly: a request over
// plain HTTP, and not from a trusted proxy that says https, is refused
// with 400 invalid_request "HTTPS is required" before its client is
// looked up, and audited with reason insecure_transport; over TLS or
// through a trusted proxy that says https it is served as before.
func TestHTTPSOnly(t *testing.T) {
	const client, proxy = "198.51.100.7:1", "10.0.0.5:1"
	for _, tc := range []struct {
		name      string
		httpsOnly bool
		remote    string
		tls       bool
		proto     string
		refused   bool
	}{
		{name: "plain HTTP", httpsOnly: true, remote: client, refused: true},
		{name: "TLS", httpsOnly: true, remote: client, tls: true},
		{name: "off", remote: client},
		{name: "trusted proxy says https", httpsOnly: true, remote: proxy, proto: "https"},
		{name: "trusted proxy says http", httpsOnly: true, remote: proxy, proto: "http", refused: true},
		{name: "untrusted peer says https", httpsOnly: true, remote: client, proto: "https", refused: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resolver, err := ipbind.NewResolver(ipbind.Config{TrustedProxies: []string{"10.0.0.0/8"}})
			require.NoError(t, err)
			sink := audit.NewMemorySink(10)
			w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{sink}})
			e := newGuardEnv(t, guardOptions{httpsOnly: tc.httpsOnly, audit: middleware.AuditConfig{Writer: w},
				access: middleware.AccessConfig{ClientIP: resolver}})
			endpoints := []struct {
				name string
				h    http.Handler
				form url.Values
				ok   int
			}{
				{"token", e.token, clientCredentials(), http.StatusOK},
				{"revoke", e.revoke, url.Values{"token": {"unknown"}}, http.StatusOK},
				{"introspect", e.introspect, url.Values{"token": {"unknown"}}, http.StatusOK},
			}
			for _, ep := range endpoints {
				r := httptest.NewRequest(http.MethodPost, "/oauth/"+ep.name, strings.NewReader(ep.form.Encode()))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.SetBasicAuth(url.QueryEscape(e.sk.ID()), url.QueryEscape(e.sk.Reveal()))
				r.RemoteAddr = tc.remote
				if tc.proto != "" {
					r.Header.Set("X-Forwarded-Proto", tc.proto)
				}
				if tc.tls {
					r.TLS = &tls.ConnectionState{}
				}
				before := e.clients.n.Load()
				rec := httptest.NewRecorder()
				e.auth.Audit(ep.h).ServeHTTP(rec, r)
				if !tc.refused {
					assert.Equal(t, ep.ok, rec.Code, "%s: %s", ep.name, rec.Body.String())
					continue
				}
				require.Equal(t, http.StatusBadRequest, rec.Code, "%s: %s", ep.name, rec.Body.String())
				var body map[string]string
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
				assert.Equal(t, map[string]string{"error": "invalid_request", "error_description": "HTTPS is required"}, body, ep.name)
				assert.Equal(t, before, e.clients.n.Load(), "%s: the client is not looked up", ep.name)
			}
			require.NoError(t, w.Close(context.Background()))
			events := sink.Events()
			require.Len(t, events, len(endpoints))
			for i, ev := range events {
				if tc.refused {
					assert.Equal(t, audit.Deny, ev.Decision, endpoints[i].name)
					assert.Equal(t, middleware.CodeInsecureTransport, ev.Reason, endpoints[i].name)
				} else {
					assert.NotEqual(t, middleware.CodeInsecureTransport, ev.Reason, endpoints[i].name)
				}
			}
		})
	}
}
