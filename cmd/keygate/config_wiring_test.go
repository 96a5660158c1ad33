package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/account"
	"github.com/keygate/keygate/apikey"
)

// TestConfigWiring builds the app from a configuration file: its
// packages replace the demo's, its rate limits apply to live keys of the
// package, its trusted proxies give the client address, and without
// demo: true the demo's routes are not there.
func TestConfigWiring(t *testing.T) {
	const file = `db: memory
no_audit: true
trusted_proxies: [10.0.0.0/8]
packages:
  - {name: BASIC, permissions: ["orders:read"]}
  - {name: PLUS, permissions: ["orders:write"]}
rate_limits: {BASIC: 2/1m}
`
	ctx := context.Background()
	frozen := time.Now()
	a := newTestApp(t, file, func(cfg *serveConfig) { cfg.limiterNow = func() time.Time { return frozen } })

	_, err := a.accounts.Create(ctx, account.CreateParams{ID: "acct_go", Name: "demo package", Package: "GO"})
	require.ErrorIs(t, err, account.ErrUnknownPackage, "the file's packages replace the demo's")
	key := func(pkg string, mode keygate.Mode) string {
		id := "acct_" + pkg + "_" + string(mode)
		_, err := a.accounts.Create(ctx, account.CreateParams{ID: id, Name: id, Package: pkg})
		require.NoError(t, err)
		k, rec, err := a.keys.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{Account: id, Mode: mode, Package: pkg, Permissions: []string{"orders:read"}}, Kind: keygate.KindSecret, Name: "k"})
		require.NoError(t, err)
		if mode == keygate.ModeLive {
			_, err = a.keys.Approve(ctx, rec.ID, "reviewer")
			require.NoError(t, err)
		}
		return k.Reveal()
	}
	get := func(key, peer, forwardedFor, path string) (int, keygate.Principal) {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.RemoteAddr = peer
		r.Header.Set("Authorization", "Bearer "+key)
		if forwardedFor != "" {
			r.Header.Set("X-Forwarded-For", forwardedFor)
		}
		w := httptest.NewRecorder()
		a.handler.ServeHTTP(w, r)
		var p keygate.Principal
		if w.Code == http.StatusOK {
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p))
		}
		return w.Code, p
	}

	basicLive := key("BASIC", keygate.ModeLive)
	code, p := get(basicLive, "10.1.2.3:4000", "203.0.113.7", "/v1/whoami")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "203.0.113.7", p.ClientIP.String(), "a trusted proxy gives the client address")
	code, p = get(basicLive, "192.0.2.1:4000", "203.0.113.7", "/v1/whoami")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "192.0.2.1", p.ClientIP.String(), "another peer's forwarding headers are ignored")
	code, _ = get(basicLive, "192.0.2.1:4000", "", "/v1/whoami")
	assert.Equal(t, http.StatusTooManyRequests, code, "BASIC live: 2 per minute")

	// Test mode, and a package without a limit, are unlimited.
	basicTest, plusLive := key("BASIC", keygate.ModeTest), key("PLUS", keygate.ModeLive)
	for range 4 {
		code, _ = get(basicTest, "192.0.2.1:4000", "", "/v1/whoami")
		assert.Equal(t, http.StatusOK, code)
		code, _ = get(plusLive, "192.0.2.1:4000", "", "/v1/whoami")
		assert.Equal(t, http.StatusOK, code)
	}

	code, _ = get(basicTest, "192.0.2.1:4000", "", "/v1/stores")
	assert.Equal(t, http.StatusNotFound, code, "no demo routes without demo: true")
}

// net127 is the address 127.0.0.1:8443.
type net127 struct{}

func (*net127) Network() string { return "tcp" }
func (*net127) String() string  { return "127.0.0.1:8443" }
