package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/account"
	"github.com/keygate/keygate/apikey"
)

// TestGatewayWiring builds the app from a configuration file with routes
// and checks, in process, how serve mounts the gateway: forward-auth at
// /auth/verify (and under it, for Envoy), the reverse proxy for what the
// server's own routes do not match, a route's tier and permission,
// https_only on every path a credential takes, and one list of trusted
// proxies (loopback by default) for the gateway and the client address.
func TestGatewayWiring(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"path": r.URL.Path, "headers": r.Header})
	}))
	t.Cleanup(upstream.Close)
	for _, httpsOnly := range []bool{false, true} {
		t.Run(fmt.Sprintf("https_only=%v", httpsOnly), func(t *testing.T) {
			file := fmt.Sprintf(`db: memory
no_audit: true
https_only: %v
packages:
  - {name: BASIC, permissions: ["orders:read"]}
  - {name: PLUS, permissions: ["orders:write"]}
routes:
  - {match: "GET /orders/{id}", permission: "orders:read", tier: BASIC, upstream: %q}
  - {match: "POST /orders", permission: "orders:write", tier: PLUS, upstream: %q}
  - {match: "GET /reports", permission: "orders:read"}
`, httpsOnly, upstream.URL, upstream.URL)
			a := newTestApp(t, file)
			basic, plus := a.key(t, "BASIC"), a.key(t, "PLUS")

			// send serves one request from peer, over TLS when secure.
			send := func(method, path, key, peer string, secure bool, header ...string) *httptest.ResponseRecorder {
				r := httptest.NewRequest(method, path, nil)
				r.RemoteAddr = peer
				if key != "" {
					r.Header.Set("Authorization", "Bearer "+key)
				}
				for i := 0; i+1 < len(header); i += 2 {
					r.Header.Set(header[i], header[i+1])
				}
				if secure {
					r.TLS = &tls.ConnectionState{}
				}
				w := httptest.NewRecorder()
				a.handler.ServeHTTP(w, r)
				return w
			}
			const client, proxy = "198.51.100.7:5000", "127.0.0.1:6000"

			// The reverse proxy: the route's rule, identity headers, and
			// a forged identity removed.
			w := send("GET", "/orders/7", basic, client, true, "X-Keygate-Account", "acct_forged")
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			var echoed struct {
				Path    string
				Headers http.Header
			}
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &echoed))
			assert.Equal(t, "/orders/7", echoed.Path)
			assert.Equal(t, []string{"acct_BASIC"}, echoed.Headers["X-Keygate-Account"])
			assert.NotEmpty(t, echoed.Headers.Get("X-Keygate-Key-Id"))
			assert.Empty(t, echoed.Headers.Get("Authorization"), "the credential is not forwarded")
			assert.Equal(t, http.StatusForbidden, send("POST", "/orders", basic, client, true).Code, "BASIC does not reach PLUS")
			assert.Equal(t, http.StatusOK, send("POST", "/orders", plus, client, true).Code)
			assert.Equal(t, http.StatusUnauthorized, send("GET", "/orders/7", "", client, true).Code)
			assert.Equal(t, http.StatusForbidden, send("GET", "/reports", basic, client, true).Code, "a forward-auth-only route is not proxied")
			assert.Equal(t, http.StatusForbidden, send("GET", "/nowhere", basic, client, true).Code, "default deny")

			// The server's own routes stay more specific.
			w = send("GET", "/v1/whoami", basic, client, true)
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			var p keygate.Principal
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p))
			assert.Equal(t, "acct_BASIC", p.Account)
			assert.Equal(t, http.StatusOK, send("GET", "/healthz", "", client, false).Code)

			// Forward-auth, nginx style and Envoy style, from the
			// loopback proxy (trusted by default), whose X-Forwarded-For
			// gives the client's address.
			w = send("GET", "/auth/verify", basic, proxy, false, "X-Original-Method", "GET", "X-Original-URI", "/reports",
				"X-Forwarded-Proto", "https", "X-Forwarded-For", "203.0.113.9")
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			assert.Equal(t, "acct_BASIC", w.Header().Get("X-Keygate-Account"))
			w = send("GET", "/auth/verify/orders/7", basic, proxy, false, "X-Forwarded-Proto", "https")
			assert.Equal(t, http.StatusOK, w.Code, "Envoy: %s", w.Body.String())
			assert.Equal(t, http.StatusForbidden, send("GET", "/auth/verify", basic, client, true, "X-Original-URI", "/reports").Code,
				"an untrusted peer is no proxy")

			// https_only: a key over plain HTTP is refused on every
			// path, a proxy saying http included; without a credential
			// nothing changes.
			insecure := []*httptest.ResponseRecorder{
				send("GET", "/orders/7", basic, client, false),
				send("GET", "/v1/whoami", basic, client, false),
				send("GET", "/auth/verify", basic, proxy, false, "X-Original-URI", "/reports", "X-Forwarded-Proto", "http"),
				send("GET", "/orders/7", basic, proxy, false, "X-Forwarded-Proto", "https", "Forwarded", "proto=http"),
				send("GET", "/orders/7", basic, client, false, "X-Forwarded-Proto", "https"),
			}
			for i, w := range insecure {
				if !httpsOnly {
					assert.Equal(t, http.StatusOK, w.Code, "request %d: %s", i, w.Body.String())
					continue
				}
				assert.Equal(t, http.StatusBadRequest, w.Code, "request %d", i)
				assert.JSONEq(t, `{"error":"invalid_request","error_description":"HTTPS is required"}`, w.Body.String(), "request %d", i)
			}
			assert.Equal(t, http.StatusOK, send("GET", "/orders/7", basic, proxy, false, "X-Forwarded-Proto", "https").Code,
				"a trusted proxy that says https")
			assert.Equal(t, http.StatusUnauthorized, send("GET", "/orders/7", "", client, false).Code)
		})
	}
}

// testApp is an app built from a configuration file, in memory.
type testApp struct{ *app }

// newTestApp builds the app of the configuration file's text, as if it
// listened on 127.0.0.1:8443, with what mods change in its settings; it
// is closed when the test ends.
func newTestApp(t *testing.T, file string, mods ...func(*serveConfig)) testApp {
	t.Helper()
	ctx := context.Background()
	cfg, err := parseConfig("k.yaml", []byte(file), defaultServeConfig(), noEnv)
	require.NoError(t, err)
	cfg = cfg.withAddress(&net127{})
	for _, mod := range mods {
		mod(&cfg)
	}
	st, err := openStorage(ctx, cfg.store, io.Discard)
	require.NoError(t, err)
	t.Cleanup(func() { st.close() })
	a, err := newApp(ctx, cfg, st, io.Discard)
	require.NoError(t, err)
	t.Cleanup(func() { a.close(ctx) })
	return testApp{a}
}

// key makes an account on package pkg (acct_<pkg>) and returns a test
// secret key of it.
func (a testApp) key(t *testing.T, pkg string) string {
	t.Helper()
	ctx := context.Background()
	id := "acct_" + pkg
	_, err := a.accounts.Create(ctx, account.CreateParams{ID: id, Name: id, Package: pkg})
	require.NoError(t, err)
	k, _, err := a.keys.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{Account: id, Mode: keygate.ModeTest, Package: pkg}, Kind: keygate.KindSecret, Name: "k"})
	require.NoError(t, err)
	return k.Reveal()
}
