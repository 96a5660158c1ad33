package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRetailDemo checks the demo routes of the reference server against
// the retail product's package table, the publishable key, a spoofed
// X-Forwarded-For, the one-time checkout and the PRIME key's rate limit.
func TestRetailDemo(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdoutR, stdoutW := io.Pipe()
	defer stdoutR.Close()
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"serve", "--db", "memory", "--addr", "127.0.0.1:0", "--demo-rate-limit", "20/10m"}, stdoutW, &stderr)
		stdoutW.CloseWithError(err)
		done <- err
	}()
	b := readBanner(t, stdoutR)
	client := &http.Client{Timeout: 10 * time.Second}
	call := func(method, path, key string, header ...string) (int, http.Header, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(method, b.url+path, strings.NewReader("{}"))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+key)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		res, err := client.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		raw, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		var body map[string]any
		require.NoError(t, json.Unmarshal(raw, &body), "%s", raw)
		for _, k := range []string{b.secret, b.publishable, b.prime} {
			require.NotContains(t, string(raw), k)
		}
		return res.StatusCode, res.Header, body
	}

	routes := []struct{ method, path string }{
		{"GET", "/v1/stores"}, {"GET", "/v1/products"}, {"POST", "/v1/products"}, {"POST", "/v1/chat/messages"},
		{"POST", "/v1/offers"}, {"POST", "/v1/checkout/start"}, {"GET", "/v1/analytics/export"},
	}
	// The GO key: everything up to GO, nothing above.
	goWant := map[string]int{"/v1/checkout/start": 403, "/v1/analytics/export": 403}
	for _, rt := range routes {
		want := http.StatusOK
		if w, ok := goWant[rt.path]; ok {
			want = w
		}
		status, _, body := call(rt.method, rt.path, b.secret)
		assert.Equal(t, want, status, "GO key %s %s: %v", rt.method, rt.path, body)
		if want == 403 {
			assert.Equal(t, "insufficient_scope", body["error"])
		}
	}
	// The PRIME key: all of them (7 requests of its 20).
	for _, rt := range routes {
		status, _, body := call(rt.method, rt.path, b.prime)
		assert.Equal(t, http.StatusOK, status, "PRIME key %s %s: %v", rt.method, rt.path, body)
	}
	// The publishable key: reading products only.
	status, _, _ := call("GET", "/v1/products", b.publishable)
	assert.Equal(t, http.StatusOK, status)
	status, _, body := call("POST", "/v1/products", b.publishable)
	assert.Equal(t, http.StatusForbidden, status)
	assert.Equal(t, "insufficient_scope", body["error"])

	// A spoofed X-Forwarded-For from an untrusted peer changes nothing:
	// the client IP stays the peer's.
	status, _, body = call("GET", "/v1/whoami", b.secret, "X-Forwarded-For", "203.0.113.7")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "127.0.0.1", body["client_ip"])

	// Checkout: start (PRIME reaches GROW) gives a one-time token that
	// confirms exactly once.
	status, _, body = call("POST", "/v1/checkout/start", b.prime)
	require.Equal(t, http.StatusOK, status, "%v", body)
	token := body["one_time_token"].(string)
	assert.EqualValues(t, 60, body["expires_in"])
	status, _, _ = call("POST", "/v1/checkout/confirm", token)
	assert.Equal(t, http.StatusOK, status)
	status, _, _ = call("POST", "/v1/checkout/confirm", token)
	assert.Equal(t, http.StatusUnauthorized, status, "used once")
	status, _, _ = call("POST", "/v1/checkout/confirm", b.prime)
	assert.Equal(t, http.StatusUnauthorized, status, "only a one-time token confirms")

	// The PRIME account has used 9 of its 20 requests in this window (7
	// routes, the checkout start, and the confirmation, which acts for the
	// account that obtained the token): 11 more pass, the next is 429 with
	// Retry-After. (The window is 10 minutes here, not the default 10 s,
	// so that GCRA gives no request back while a slow machine runs this.)
	for i := 0; i < 11; i++ {
		status, h, _ := call("GET", "/v1/stores", b.prime)
		require.Equal(t, http.StatusOK, status, "request %d of the window", 10+i)
		assert.NotEmpty(t, h.Get("RateLimit"))
		assert.Equal(t, `"demo";q=20;w=600`, h.Get("RateLimit-Policy"))
	}
	status, h, body := call("GET", "/v1/stores", b.prime)
	assert.Equal(t, http.StatusTooManyRequests, status)
	assert.Equal(t, "rate_limited", body["error"])
	assert.NotEmpty(t, h.Get("Retry-After"))
	// Test mode is unlimited for the GO account.
	for i := 0; i < 25; i++ {
		status, _, _ := call("GET", "/v1/stores", b.secret)
		require.Equal(t, http.StatusOK, status)
	}

	cancel()
	require.NoError(t, <-done)
}
