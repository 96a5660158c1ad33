package gateway_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/gateway"
	"github.com/keygate/keygate/middleware"
)

// TestHTTPSOnly checks middleware.Config.HTTPSOnly through the gateway:
// a forward-auth question is about the original request, so a key the
// proxy says came over plain HTTP is refused with 400 even when the
// question itself came over TLS, and one it says came over HTTPS passes;
// the reverse proxy refuses a key over plain HTTP. Each refusal is
// audited with reason insecure_transport.
func TestHTTPSOnly(t *testing.T) {
	ctx := context.Background()
	keys, err := apikey.NewManager(apikey.Config{})
	require.NoError(t, err)
	k, _, err := keys.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest, Permissions: []string{"orders:read"}}, Kind: keygate.KindSecret})
	require.NoError(t, err)
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	clientIP, err := gateway.NewClientIPResolver(trusted)
	require.NoError(t, err)
	sink := audit.NewMemorySink(100)
	events := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{sink}})
	auth, err := middleware.New(middleware.Config{APIKeys: keys, HTTPSOnly: true,
		Access: middleware.AccessConfig{ClientIP: clientIP}, Audit: middleware.AuditConfig{Writer: events}})
	require.NoError(t, err)
	upstream := httptest.NewServer(http.HandlerFunc(echo))
	t.Cleanup(upstream.Close)
	up, err := url.Parse(upstream.URL)
	require.NoError(t, err)
	gw, err := gateway.New(gateway.Config{Auth: auth, TrustedProxies: trusted,
		Routes: fixtureRoutes(up)})
	require.NoError(t, err)

	const proxy = "10.0.0.1:4000"
	for _, tc := range []struct {
		name  string
		peer  string
		tls   bool
		proto string
		want  int
	}{
		{"question over TLS about plain HTTP", proxy, true, "http", http.StatusBadRequest},
		{"question over plain HTTP about plain HTTP", proxy, false, "http", http.StatusBadRequest},
		{"question over plain HTTP about HTTPS", proxy, false, "https", http.StatusOK},
		{"question over TLS about HTTPS", proxy, true, "https", http.StatusOK},
		{"question over TLS that does not say", proxy, true, "", http.StatusOK},
		{"question over plain HTTP that does not say", proxy, false, "", http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := httptest.NewRequest("GET", "/auth/verify", nil)
			q.RemoteAddr = tc.peer
			q.Header.Set("Authorization", "Bearer "+k.Reveal())
			q.Header.Set("X-Original-Uri", "/orders/42")
			if tc.proto != "" {
				q.Header.Set("X-Forwarded-Proto", tc.proto)
			}
			if tc.tls {
				q.TLS = &tls.ConnectionState{}
			}
			rec := httptest.NewRecorder()
			gw.ForwardAuth().ServeHTTP(rec, q)
			require.Equal(t, tc.want, rec.Code, rec.Body.String())
			if tc.want == http.StatusBadRequest {
				assert.JSONEq(t, `{"error":"invalid_request","error_description":"HTTPS is required"}`, rec.Body.String())
			}
		})
	}

	r := httptest.NewRequest("GET", "/orders/42", nil)
	r.RemoteAddr = "198.51.100.7:5000"
	r.Header.Set("Authorization", "Bearer "+k.Reveal())
	rec := httptest.NewRecorder()
	gw.Proxy().ServeHTTP(rec, r)
	assert.Equal(t, http.StatusBadRequest, rec.Code, "the reverse proxy, over plain HTTP")

	require.NoError(t, events.Close(ctx))
	var insecure int
	for _, e := range sink.Events() {
		if e.Reason == middleware.CodeInsecureTransport {
			insecure++
		}
	}
	assert.Equal(t, 4, insecure, "each refusal is audited as insecure_transport")
}
