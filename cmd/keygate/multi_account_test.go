package main

import (
	"net/http"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServeTwoInstancesAccounts runs two instances of keygate serve on one
// PostgreSQL database and one Redis, with account caches of a minute: an
// account disabled through A is refused by B, for its API keys, signed
// requests and access tokens, and works again on B once enabled (the
// worst latency over 20 rounds is logged), but for the access tokens
// obtained before the disable, which stay refused on both; a package
// change through A applies on B to a signed request and an access token,
// whose records never get the package. An instance without Redis sees a
// disable within its cache TTL.
func TestServeTwoInstancesAccounts(t *testing.T) {
	verifyNoLeaks(t)
	dsn := postgresDatabase(t)
	redisURL, prefix := redisPrefix(t)
	dir := t.TempDir()
	args := []string{
		"--db", dsn, "--redis", redisURL, "--redis-prefix", prefix,
		"--master-key-file", filepath.Join(dir, "keygate.key"),
		// Far beyond the latencies measured: only the broadcast can make
		// B see a change that fast.
		"--cache-ttl", "1m",
		"--issuer", "http://" + lbAuthority, "--authority", lbAuthority,
	}
	a := startInstance(t, args...)
	b := startInstance(t, args...)
	require.True(t, a.created)
	keys := a.keys
	c := httpClient(t)

	// A token obtained on A by the demo secret key (client credentials):
	// its kg_package claim says GO.
	tokenOf := func(base string) string {
		t.Helper()
		r := call(t, c, http.MethodPost, base+"/oauth/token", url.Values{"grant_type": {"client_credentials"},
			"client_id": {keyID(keys.secret)}, "client_secret": {keys.secret}})
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		return jsonBody(t, r)["access_token"].(string)
	}
	token := tokenOf(a.url)
	// status sends each kind of credential of acct_demo to B's route.
	status := func(path string) map[string]int {
		return map[string]int{
			"API key":      call(t, c, http.MethodGet, b.url+path, nil, bearer(keys.secret)...).status,
			"access token": call(t, c, http.MethodGet, b.url+path, nil, bearer(token)...).status,
			"HMAC":         send(t, c, signedRequest(t, keys, http.MethodGet, b.url+path, lbAuthority)).status,
		}
	}
	all := func(code int) map[string]int {
		return map[string]int{"API key": code, "access token": code, "HMAC": code}
	}
	account := func(base, action string) {
		t.Helper()
		r := call(t, c, http.MethodPost, base+"/admin/v1/accounts/"+demoAccount+"/"+action, nil, bearer(keys.admin)...)
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	}
	// until polls B with the API key until it answers code.
	until := func(code int, since time.Time) time.Duration {
		t.Helper()
		for {
			r := call(t, c, http.MethodGet, b.url+"/v1/whoami", nil, bearer(keys.secret)...)
			if r.status == code {
				return time.Since(since)
			}
			require.Less(t, time.Since(since), 5*time.Second, "B still answers %d, not %d: %s", r.status, code, r.body)
		}
	}

	t.Run("an account disabled on A is refused by B", func(t *testing.T) {
		require.Equal(t, all(http.StatusOK), status("/v1/whoami"), "B caches the account, enabled")
		const rounds = 20
		var worstOff, worstOn, total time.Duration
		for range rounds {
			require.Equal(t, http.StatusOK, call(t, c, http.MethodGet, b.url+"/v1/whoami", nil, bearer(keys.secret)...).status)
			account(a.url, "disable")
			disabled := time.Now()
			require.Equal(t, http.StatusUnauthorized, call(t, c, http.MethodGet, a.url+"/v1/whoami", nil, bearer(keys.secret)...).status,
				"A refuses at once")
			d := until(http.StatusUnauthorized, disabled)
			worstOff, total = max(worstOff, d), total+d
			account(a.url, "enable")
			worstOn = max(worstOn, until(http.StatusOK, time.Now()))
		}
		t.Logf("account disabled on A refused by B (cache TTL 1m, Redis pub/sub): worst %v after A's response, mean %v, over %d rounds; enabled again: worst %v",
			worstOff, total/rounds, rounds, worstOn)
		assert.Less(t, worstOff, 2*time.Second, "the bound with Redis is well under a second; this one is generous, for loaded machines")

		account(a.url, "disable")
		until(http.StatusUnauthorized, time.Now())
		assert.Equal(t, all(http.StatusUnauthorized), status("/v1/whoami"), "every credential of the account is refused on B")
		r := call(t, c, http.MethodPost, b.url+"/oauth/token", url.Values{"grant_type": {"client_credentials"},
			"client_id": {keyID(keys.secret)}, "client_secret": {keys.secret}})
		assert.Equal(t, http.StatusUnauthorized, r.status, "no new token for a disabled account: %s", r.body)
		assert.Equal(t, "invalid_client", jsonBody(t, r)["error"])
		disabled := time.Now()
		account(a.url, "enable")
		until(http.StatusOK, time.Now())
		// The access token obtained before the disable stays refused on
		// both instances (the account's token cut-off); the keys and
		// credentials work again, and so does a token obtained since
		// (iat has whole seconds: one issued in the second of the
		// disable is refused too).
		want := all(http.StatusOK)
		want["access token"] = http.StatusUnauthorized
		assert.Equal(t, want, status("/v1/whoami"), "B: the keys work again, not the old token")
		r = call(t, c, http.MethodGet, a.url+"/v1/whoami", nil, bearer(token)...)
		assert.Equal(t, http.StatusUnauthorized, r.status, "A refuses the old token too: %s", r.body)
		time.Sleep(time.Until(time.Unix(disabled.Unix()+1, 0)))
		token = tokenOf(a.url)
		assert.Equal(t, all(http.StatusOK), status("/v1/whoami"), "a token obtained after the enable works on B")
	})

	t.Run("a package changed on A applies on B to every credential", func(t *testing.T) {
		require.Equal(t, all(http.StatusForbidden), status("/v1/analytics/export"), "GO does not reach the PRIME route")
		r := call(t, c, http.MethodPatch, a.url+"/admin/v1/accounts/"+demoAccount, map[string]any{"package": "PRIME"}, bearer(keys.admin)...)
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		changed := time.Now()
		require.Eventually(t, func() bool {
			return send(t, c, signedRequest(t, keys, http.MethodGet, b.url+"/v1/analytics/export", lbAuthority)).status == http.StatusOK
		}, 2*time.Second, time.Millisecond, "the HMAC credential, which keeps GO in its record, reaches PRIME routes on B")
		t.Logf("package change on A applied on B after %v", time.Since(changed))
		assert.Equal(t, all(http.StatusOK), status("/v1/analytics/export"), "the token still says GO; the account's package applies")
		for name, cred := range map[string][]string{"API key": bearer(keys.secret), "access token": bearer(token)} {
			r := call(t, c, http.MethodGet, b.url+"/v1/whoami", nil, cred...)
			assert.Equal(t, "PRIME", jsonBody(t, r)["package"], name)
		}
	})

	t.Run("without Redis, a disable reaches an instance within its cache TTL", func(t *testing.T) {
		const ttl = 500 * time.Millisecond
		var noRedis []string
		for i := 0; i < len(args); i += 2 {
			switch args[i] {
			case "--redis", "--redis-prefix", "--cache-ttl":
			default:
				noRedis = append(noRedis, args[i], args[i+1])
			}
		}
		d := startInstance(t, append(noRedis, "--cache-ttl", ttl.String())...)
		require.Equal(t, http.StatusOK, call(t, c, http.MethodGet, d.url+"/v1/whoami", nil, bearer(keys.secret)...).status)
		account(a.url, "disable")
		disabled := time.Now()
		for call(t, c, http.MethodGet, d.url+"/v1/whoami", nil, bearer(keys.secret)...).status != http.StatusUnauthorized {
			require.Less(t, time.Since(disabled), 10*ttl, "the cache TTL bounds how long a disabled account works")
			time.Sleep(5 * time.Millisecond)
		}
		t.Logf("account disabled on A refused by an instance without Redis after %v (cache TTL %v)", time.Since(disabled), ttl)
		account(a.url, "enable")
		d.stop(t)
	})

	a.stop(t)
	b.stop(t)
	for _, in := range []*instance{a, b} {
		in.requireNoSecrets(t, keys.secrets()...)
	}
}
