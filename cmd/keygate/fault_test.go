package main

import (
	"net/http"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// unavailableWithin bounds how long a request that needs a store that is
// down may take to fail: the Redis client's and the database's timeouts.
const unavailableWithin = 5 * time.Second

// requireUnavailable checks a 503 with the JSON error that says the
// server cannot answer now.
func requireUnavailable(t *testing.T, r response, took time.Duration, what string) {
	t.Helper()
	require.Equal(t, http.StatusServiceUnavailable, r.status, "%s: body: %s", what, r.body)
	require.Equal(t, "application/json", r.header.Get("Content-Type"), what)
	require.Equal(t, "temporarily_unavailable", jsonBody(t, r)["error"], what)
	require.Less(t, took, unavailableWithin, what)
	t.Logf("%s: 503 in %v", what, took.Round(100*time.Microsecond))
}

// timed runs fn and returns its response and how long it took.
func timed(fn func() response) (response, time.Duration) {
	start := time.Now()
	r := fn()
	return r, time.Since(start)
}

// TestServeStoreDown runs serve on PostgreSQL and Redis, each behind a TCP
// proxy that the test cuts, as if the server stopped, and restores: while
// a store is down, every request that needs it answers 503 with a JSON
// error, fast, and the others still succeed; once it is back, requests
// succeed again without a restart, and the audit events of the outage are
// written to the database.
func TestServeStoreDown(t *testing.T) {
	verifyNoLeaks(t)
	dsn := postgresDatabase(t)
	redisURL, prefix := redisPrefix(t)
	pg := newProxy(t, hostPort(t, dsn))
	rd := newProxy(t, hostPort(t, redisURL))
	const ttl = 200 * time.Millisecond
	in := startInstance(t,
		"--db", redirect(t, dsn, pg.addr), "--redis", redirect(t, redisURL, rd.addr), "--redis-prefix", prefix,
		"--master-key-file", filepath.Join(t.TempDir(), "keygate.key"), "--cache-ttl", ttl.String())
	require.True(t, in.created)
	keys := in.keys
	c := httpClient(t)
	get := func(path string, headers ...string) func() response {
		return func() response { return call(t, c, http.MethodGet, in.url+path, nil, headers...) }
	}
	signed := func() response { return send(t, c, signedRequest(t, keys, http.MethodGet, in.url+"/v1/whoami", "")) }

	r := passwordGrant(t, c, in.url, keys)
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	access := jsonBody(t, r)["access_token"].(string)
	r = call(t, c, http.MethodPost, in.url+"/v1/checkout/start", nil, bearer(keys.prime)...)
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	oneTime := jsonBody(t, r)["one_time_token"].(string)
	confirm := func() response {
		return call(t, c, http.MethodPost, in.url+"/v1/checkout/confirm", nil, bearer(oneTime)...)
	}

	t.Run("Redis down", func(t *testing.T) {
		rd.cut()
		for _, tc := range []struct {
			what string
			fn   func() response
		}{
			{"an HMAC signature (its nonce)", signed},
			{"an access token (the denylist)", get("/v1/whoami", bearer(access)...)},
			{"a rate-limited key (the limiter)", get("/v1/whoami", bearer(keys.prime)...)},
			{"a one-time token", confirm},
		} {
			r, took := timed(tc.fn)
			requireUnavailable(t, r, took, tc.what)
		}
		// What does not need Redis still works.
		r := call(t, c, http.MethodGet, in.url+"/v1/whoami", nil, bearer(keys.secret)...)
		require.Equal(t, http.StatusOK, r.status, "an API key without a rate limit: %s", r.body)
		r = call(t, c, http.MethodGet, in.url+"/admin/v1/accounts", nil, bearer(keys.admin)...)
		require.Equal(t, http.StatusOK, r.status, "the admin API: %s", r.body)

		rd.restore()
		eventually(t, 50*time.Millisecond, "signed requests succeed again once Redis is back", func() bool { return signed().status == http.StatusOK })
		for _, tc := range []struct {
			what string
			fn   func() response
		}{
			{"an access token", get("/v1/whoami", bearer(access)...)},
			{"a rate-limited key", get("/v1/whoami", bearer(keys.prime)...)},
			{"the one-time token issued before the outage", confirm},
		} {
			r := tc.fn()
			require.Equal(t, http.StatusOK, r.status, "%s: %s", tc.what, r.body)
		}
	})

	t.Run("PostgreSQL down", func(t *testing.T) {
		_, key := createKey(t, c, in.url, keys.admin)
		pg.cut()
		time.Sleep(2 * ttl) // past the caches' TTL: every key needs the database again
		for _, tc := range []struct {
			what string
			fn   func() response
		}{
			{"an API key", get("/v1/whoami", bearer(key)...)},
			{"an HMAC signature (its credential)", signed},
			{"the password grant", func() response { return passwordGrant(t, c, in.url, keys) }},
			{"the admin API", get("/admin/v1/keys", bearer(keys.admin)...)},
			// An access token needs its account and its client key,
			// which cannot be checked either: it fails closed too.
			{"an access token (its account and client key)", get("/v1/whoami", bearer(access)...)},
		} {
			r, took := timed(tc.fn)
			requireUnavailable(t, r, took, tc.what)
		}
		// Every credential needs its account, in the database, once the
		// cache has expired: access tokens are refused too, and the audit
		// events of the refusals wait for the database.
		var outage []string
		for range 3 {
			r := call(t, c, http.MethodGet, in.url+"/v1/whoami", nil, bearer(access)...)
			require.Equal(t, http.StatusServiceUnavailable, r.status, "an access token: %s", r.body)
			require.NotEmpty(t, r.header.Get("X-Request-Id"))
			outage = append(outage, r.header.Get("X-Request-Id"))
		}

		pg.restore()
		eventually(t, 50*time.Millisecond, "API keys work again once the database is back", func() bool {
			return call(t, c, http.MethodGet, in.url+"/v1/whoami", nil, bearer(key)...).status == http.StatusOK
		})
		r := signed()
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		r = call(t, c, http.MethodGet, in.url+"/v1/whoami", nil, bearer(access)...)
		require.Equal(t, http.StatusOK, r.status, "the access token works again: %s", r.body)
		r = passwordGrant(t, c, in.url, keys)
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		eventually(t, 100*time.Millisecond, "the audit events of the outage are written once the database is back", func() bool {
			written := map[string]bool{}
			for _, e := range auditEvents(t, c, in.url, keys.admin, url.Values{"reason": {"temporarily_unavailable"}, "limit": {"100"}}) {
				if id, ok := e["request_id"].(string); ok {
					written[id] = true
				}
			}
			for _, id := range outage {
				if !written[id] {
					return false
				}
			}
			return true
		})
		require.Contains(t, in.stderr.String(), "keygate: audit: writing events failed (kept in memory and retried)")
	})

	in.stop(t)
	in.requireNoSecrets(t, keys.secrets()...)
}
