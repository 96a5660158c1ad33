package main

import (
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServeTwoInstancesAccounts runs two instances of keygate serve on one
// PostgreSQL database and one Redis, with account caches of a day: an
// account disabled through A is refused by B once A's broadcast reaches it
// (the test waits for the message), for its API keys, signed requests and
// access tokens, and works again on B once enabled, but for the access tokens
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
		// Beyond any test run's -timeout: only the broadcast can make B
		// see a change, however long the test waits for it.
		"--cache-ttl", "24h",
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
	bc := watchBroadcasts(t, redisURL, prefix)
	// account disables or enables the account through base; a later
	// onB waits for this change's broadcast, not an earlier one.
	account := func(base, action string) {
		t.Helper()
		bc.skipPast(t)
		r := call(t, c, http.MethodPost, base+"/admin/v1/accounts/"+demoAccount+"/"+action, nil, bearer(keys.admin)...)
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	}
	// onB waits for A's broadcast of the account's change, then for B to
	// answer code to the API key: B applies the message in a goroutine of
	// its own, which may run a moment after the test sees it.
	onB := func(code int) {
		t.Helper()
		bc.wait(t, demoAccount)
		until(t, fmt.Sprintf("B does not answer %d to the API key", code), func() bool {
			return call(t, c, http.MethodGet, b.url+"/v1/whoami", nil, bearer(keys.secret)...).status == code
		})
	}

	t.Run("an account disabled on A is refused by B", func(t *testing.T) {
		require.Equal(t, all(http.StatusOK), status("/v1/whoami"), "B caches the account, enabled")
		for range 20 {
			require.Equal(t, http.StatusOK, call(t, c, http.MethodGet, b.url+"/v1/whoami", nil, bearer(keys.secret)...).status)
			account(a.url, "disable")
			require.Equal(t, http.StatusUnauthorized, call(t, c, http.MethodGet, a.url+"/v1/whoami", nil, bearer(keys.secret)...).status,
				"A refuses at once")
			onB(http.StatusUnauthorized)
			account(a.url, "enable")
			onB(http.StatusOK)
		}

		account(a.url, "disable")
		onB(http.StatusUnauthorized)
		assert.Equal(t, all(http.StatusUnauthorized), status("/v1/whoami"), "every credential of the account is refused on B")
		r := call(t, c, http.MethodPost, b.url+"/oauth/token", url.Values{"grant_type": {"client_credentials"},
			"client_id": {keyID(keys.secret)}, "client_secret": {keys.secret}})
		assert.Equal(t, http.StatusUnauthorized, r.status, "no new token for a disabled account: %s", r.body)
		assert.Equal(t, "invalid_client", jsonBody(t, r)["error"])
		disabled := time.Now()
		account(a.url, "enable")
		onB(http.StatusOK)
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
		// Wait for the next second of the wall clock, which iat counts
		// in: the passing of time is what is waited for, not an event.
		time.Sleep(time.Until(time.Unix(disabled.Unix()+1, 0)))
		token = tokenOf(a.url)
		assert.Equal(t, all(http.StatusOK), status("/v1/whoami"), "a token obtained after the enable works on B")
	})

	t.Run("a package changed on A applies on B to every credential", func(t *testing.T) {
		require.Equal(t, all(http.StatusForbidden), status("/v1/analytics/export"), "GO does not reach the PRIME route")
		bc.skipPast(t)
		r := call(t, c, http.MethodPatch, a.url+"/admin/v1/accounts/"+demoAccount, map[string]any{"package": "PRIME"}, bearer(keys.admin)...)
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		bc.wait(t, demoAccount)
		until(t, "the HMAC credential, which keeps GO in its record, reaches PRIME routes on B", func() bool {
			return send(t, c, signedRequest(t, keys, http.MethodGet, b.url+"/v1/analytics/export", lbAuthority)).status == http.StatusOK
		})
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
		// What is checked is the passing of the cache TTL, on the wall
		// clock D's cache reads: D cached the account before the disable
		// began, so once a TTL has passed since, D reads it again and
		// refuses it on the next request. (Waiting for time to pass, not
		// a synchronisation.)
		time.Sleep(ttl)
		require.Equal(t, http.StatusUnauthorized, call(t, c, http.MethodGet, d.url+"/v1/whoami", nil, bearer(keys.secret)...).status,
			"the cache TTL bounds how long a disabled account works")
		account(a.url, "enable")
		d.stop(t)
	})

	a.stop(t)
	b.stop(t)
	for _, in := range []*instance{a, b} {
		in.requireNoSecrets(t, keys.secrets()...)
	}
}
