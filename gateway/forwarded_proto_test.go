package gateway_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/gateway"
	"github.com/keygate/keygate/middleware"
)

// With https_only, a forward-auth question that does not say the original
// request came over HTTPS (no X-Forwarded-Proto, over plain HTTP) is about
// a plain-HTTP request: a client's own "Forwarded: proto=https", which the
// front proxy passes on with the other headers, must not make it HTTPS.
func TestHTTPSOnlyClientForwardedHeaderThroughProxy(t *testing.T) {
	ctx := context.Background()
	keys, err := apikey.NewManager(apikey.Config{})
	require.NoError(t, err)
	k, _, err := keys.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest, Permissions: []string{"orders:read"}}, Kind: keygate.KindSecret})
	require.NoError(t, err)
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	clientIP, err := gateway.NewClientIPResolver(trusted)
	require.NoError(t, err)
	auth, err := middleware.New(middleware.Config{APIKeys: keys, HTTPSOnly: true,
		Access: middleware.AccessConfig{ClientIP: clientIP}})
	require.NoError(t, err)
	gw, err := gateway.New(gateway.Config{Auth: auth, TrustedProxies: trusted, Routes: fixtureRoutes(nil)})
	require.NoError(t, err)

	q := httptest.NewRequest("GET", "/auth/verify", nil)
	q.RemoteAddr = "10.0.0.1:4000"
	q.Header.Set("Authorization", "Bearer "+k.Reveal())
	q.Header.Set("X-Original-Uri", "/orders/42")
	q.Header.Set("Forwarded", "proto=https") // the client's
	rec := httptest.NewRecorder()
	gw.ForwardAuth().ServeHTTP(rec, q)
	assert.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
}
