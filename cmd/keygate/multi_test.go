package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/redisstore"
)

// lbAuthority is the host that the multi-instance tests' clients sign, as
// if a load balancer spread them over the instances.
const lbAuthority = "keygate.test"

// TestServeTwoInstances runs two instances of keygate serve in this
// process, each with caches of its own, on one PostgreSQL database and
// one Redis: started at once on the empty database, only one creates the
// demo data; a key revoked through A is refused by B once A's broadcast
// reaches it (the test waits for the message), and so are the access
// tokens it obtained on B once A revokes, disables or rotates it without
// grace; a signed request accepted by one is a replay
// on the other; of 200 concurrent redemptions of a one-time token spread
// over both, exactly one succeeds; a refresh token reused on B after its
// rotation on A revokes the family on both; and a rate limit holds across
// both. A third instance without Redis sees revocations within its cache
// TTL.
func TestServeTwoInstances(t *testing.T) {
	verifyNoLeaks(t)
	dsn := postgresDatabase(t)
	redisURL, prefix := redisPrefix(t)
	dir := t.TempDir()
	const limit = 10
	args := []string{
		"--db", dsn, "--redis", redisURL, "--redis-prefix", prefix,
		"--master-key-file", filepath.Join(dir, "keygate.key"),
		// A cache TTL beyond any test run's -timeout: only the
		// broadcast can make B see a revocation, however long the test
		// waits for it.
		"--cache-ttl", "24h",
		"--issuer", "http://" + lbAuthority, "--authority", lbAuthority,
		"--demo-rate-limit", "10/1m",
	}
	// Both start at once on the empty database.
	la, lb := launch(args...), launch(args...)
	a, err := la.wait(t)
	require.NoError(t, err)
	b, err := lb.wait(t)
	require.NoError(t, err)
	require.NotEqual(t, a.created, b.created, "exactly one instance creates the demo data")
	if b.created {
		a, b = b, a
	}
	keys := a.keys
	require.Equal(t, postgresName(dsn), b.using)
	c := httpClient(t)

	// Both serve the same keys, and a token from one verifies on the
	// other.
	for _, in := range []*instance{a, b} {
		r := call(t, c, http.MethodGet, in.url+"/v1/whoami", nil, bearer(keys.secret)...)
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	}
	require.Equal(t, call(t, c, http.MethodGet, a.url+"/.well-known/jwks.json", nil).body,
		call(t, c, http.MethodGet, b.url+"/.well-known/jwks.json", nil).body)
	// The console's users and sessions are the database's: a sign-in on
	// A is a session on B.
	status, _, session := consoleSignIn(t, a.url, keys.operator, keys.operatorPassword)
	require.Equal(t, http.StatusSeeOther, status)
	status, _ = consoleGet(t, b.url, consolePrefix+"/", session)
	require.Equal(t, http.StatusOK, status, "a console session started on A works on B")
	requireConsoleUser(t, b.url, keys.user, keys.password, "owner", demoAccount)

	bc := watchBroadcasts(t, redisURL, prefix)

	t.Run("a key revoked on A is refused by B", func(t *testing.T) {
		for range 20 {
			id, key := createKey(t, c, a.url, keys.admin)
			// B caches the key.
			require.Equal(t, http.StatusOK, call(t, c, http.MethodGet, b.url+"/v1/whoami", nil, bearer(key)...).status)
			require.Equal(t, http.StatusOK, call(t, c, http.MethodGet, b.url+"/v1/whoami", nil, bearer(key)...).status)
			bc.skipPast(t)
			revokeKey(t, c, a.url, keys.admin, id)
			require.Equal(t, http.StatusUnauthorized, call(t, c, http.MethodGet, a.url+"/v1/whoami", nil, bearer(key)...).status,
				"A refuses the key it revoked at once")
			// B hears of it through A's broadcast (its cache TTL is a
			// day): wait for the message, then for B to apply it.
			bc.wait(t, id)
			until(t, "B still accepts the key revoked on A", func() bool {
				r := call(t, c, http.MethodGet, b.url+"/v1/whoami", nil, bearer(key)...)
				if r.status != http.StatusUnauthorized {
					require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
					return false
				}
				return true
			})
		}
	})

	// The tokens a key obtained go with it: a token obtained on B from a
	// key that A revokes, disables or rotates without grace is refused by
	// B as soon as B hears of the change (Redis pub/sub, cache TTL 24h).
	t.Run("the access tokens of a key revoked, disabled or rotated on A are refused by B", func(t *testing.T) {
		const rounds = 20
		for i, action := range []struct {
			name string
			do   func(id string)
		}{
			{"revoke", func(id string) { revokeKey(t, c, a.url, keys.admin, id) }},
			{"disable", func(id string) {
				r := call(t, c, http.MethodPost, a.url+"/admin/v1/keys/"+id+"/disable", nil, bearer(keys.admin)...)
				require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
			}},
			{"rotate without grace", func(id string) {
				r := call(t, c, http.MethodPost, a.url+"/admin/v1/keys/"+id+"/rotate", map[string]any{"grace_seconds": 0}, bearer(keys.admin)...)
				require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
			}},
		} {
			// Each action's refusals come from an address of their own
			// (127.0.0.0/8 is all loopback), so that they stay under the
			// failed-authentication limit, 100 a minute per address.
			from := clientFrom(t, fmt.Sprintf("127.0.0.%d", 11+i))
			for range rounds {
				id, key := createKey(t, c, a.url, keys.admin)
				r := postForm(t, b.url+"/oauth/token", url.Values{"grant_type": {"client_credentials"}}, id, key)
				require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
				token := jsonBody(t, r)["access_token"].(string)
				// B caches the key.
				for range 2 {
					r := call(t, from, http.MethodGet, b.url+"/v1/whoami", nil, bearer(token)...)
					require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
				}
				bc.skipPast(t)
				action.do(id)
				r = call(t, from, http.MethodGet, a.url+"/v1/whoami", nil, bearer(token)...)
				require.Equal(t, http.StatusUnauthorized, r.status, "A refuses the token at once: %s", r.body)
				bc.wait(t, id)
				until(t, fmt.Sprintf("B still accepts the token of a key changed on A (%s)", action.name), func() bool {
					r := call(t, from, http.MethodGet, b.url+"/v1/whoami", nil, bearer(token)...)
					if r.status == http.StatusUnauthorized {
						require.Equal(t, "invalid_token", jsonBody(t, r)["error"])
						return true
					}
					require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
					return false
				})
			}
		}
		// A rotation with grace keeps the tokens.
		id, key := createKey(t, c, a.url, keys.admin)
		r := postForm(t, b.url+"/oauth/token", url.Values{"grant_type": {"client_credentials"}}, id, key)
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		token := jsonBody(t, r)["access_token"].(string)
		r = call(t, c, http.MethodPost, a.url+"/admin/v1/keys/"+id+"/rotate", map[string]any{"grace_seconds": 3600}, bearer(keys.admin)...)
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		for _, in := range []*instance{a, b} {
			r := call(t, c, http.MethodGet, in.url+"/v1/whoami", nil, bearer(token)...)
			require.Equal(t, http.StatusOK, r.status, "a rotation with grace keeps the token: %s", r.body)
		}
	})

	t.Run("a signed request accepted by one instance is a replay on the other", func(t *testing.T) {
		for _, pair := range [][2]*instance{{a, b}, {b, a}} {
			req := signedRequest(t, keys, http.MethodGet, pair[0].url+"/v1/whoami", lbAuthority)
			r := send(t, c, req)
			require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
			replay := req.Clone(req.Context())
			replay.URL = mustParse(t, pair[1].url+"/v1/whoami")
			replay.Host = lbAuthority
			r = send(t, c, replay)
			require.Equal(t, http.StatusUnauthorized, r.status, "body: %s", r.body)
			require.Equal(t, "replayed", jsonBody(t, r)["error"])
		}
	})

	t.Run("an HMAC credential revoked on A is refused by B", func(t *testing.T) {
		r := call(t, c, http.MethodPost, a.url+"/admin/v1/hmac-keys", map[string]any{
			"account": demoAccount, "mode": "test", "name": "revoked across instances",
		}, bearer(keys.admin)...)
		require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
		created := jsonBody(t, r)
		cred := banner{hmacID: created["id"].(string), hmacSecret: created["secret"].(string)}
		r = send(t, c, signedRequest(t, cred, http.MethodGet, b.url+"/v1/whoami", lbAuthority))
		require.Equal(t, http.StatusOK, r.status, "B caches the credential: %s", r.body)
		bc.skipPast(t)
		r = call(t, c, http.MethodPost, a.url+"/admin/v1/hmac-keys/"+cred.hmacID+"/revoke", nil, bearer(keys.admin)...)
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		bc.wait(t, cred.hmacID)
		until(t, "B refuses the credential revoked on A (cache TTL 24h)", func() bool {
			return send(t, c, signedRequest(t, cred, http.MethodGet, b.url+"/v1/whoami", lbAuthority)).status == http.StatusUnauthorized
		})
	})

	t.Run("a refresh token rotated on A and reused on B revokes the family on both", func(t *testing.T) {
		r := passwordGrant(t, c, a.url, keys)
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		first := jsonBody(t, r)["refresh_token"].(string)
		firstAccess := jsonBody(t, r)["access_token"].(string)
		r = refreshGrant(t, c, a.url, keys, first)
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		second := jsonBody(t, r)["refresh_token"].(string)
		secondAccess := jsonBody(t, r)["access_token"].(string)
		for _, in := range []*instance{a, b} {
			require.Equal(t, http.StatusOK, call(t, c, http.MethodGet, in.url+"/v1/whoami", nil, bearer(secondAccess)...).status)
		}
		bc.skipPast(t)
		r = refreshGrant(t, c, b.url, keys, first)
		require.Equal(t, http.StatusBadRequest, r.status, "the reuse is refused: %s", r.body)
		require.Equal(t, "invalid_grant", jsonBody(t, r)["error"])
		for _, in := range []*instance{a, b} {
			r = refreshGrant(t, c, in.url, keys, second)
			require.Equal(t, http.StatusBadRequest, r.status, "the family is revoked: %s", r.body)
			require.Equal(t, "invalid_grant", jsonBody(t, r)["error"])
		}
		// The family's access tokens go with it, on both (RFC 9700 §4.14.2):
		// at once on B, which revoked the family; on A, which answered
		// for secondAccess from its cached denylist answer (TTL a day),
		// once B's broadcast has reached it.
		for _, tok := range []string{firstAccess, secondAccess} {
			r := call(t, c, http.MethodGet, b.url+"/v1/whoami", nil, bearer(tok)...)
			require.Equal(t, http.StatusUnauthorized, r.status, "an access token of the family B revoked: %s", r.body)
		}
		bc.wait(t, redisstore.TokensRevoked)
		for _, tok := range []string{firstAccess, secondAccess} {
			until(t, "A still accepts an access token of the family revoked on B", func() bool {
				r := call(t, c, http.MethodGet, a.url+"/v1/whoami", nil, bearer(tok)...)
				if r.status != http.StatusUnauthorized {
					require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
					return false
				}
				return true
			})
		}
		require.Contains(t, b.stderr.String(), "refresh token reuse detected")
	})

	t.Run("an access token revoked on A is refused by B", func(t *testing.T) {
		r := passwordGrant(t, c, a.url, keys)
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		access := jsonBody(t, r)["access_token"].(string)
		payload, err := base64.RawURLEncoding.DecodeString(strings.Split(access, ".")[1])
		require.NoError(t, err)
		var claims struct {
			JTI string `json:"jti"`
		}
		require.NoError(t, json.Unmarshal(payload, &claims))
		require.NotEmpty(t, claims.JTI)
		// Both verify it and keep the denylist's answer for a day.
		for _, in := range []*instance{a, b, a, b} {
			require.Equal(t, http.StatusOK, call(t, c, http.MethodGet, in.url+"/v1/whoami", nil, bearer(access)...).status)
		}
		bc.skipPast(t)
		r = call(t, c, http.MethodPost, a.url+"/admin/v1/tokens/revoke", map[string]string{"jti": claims.JTI}, bearer(keys.admin)...)
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		require.Equal(t, http.StatusUnauthorized, call(t, c, http.MethodGet, a.url+"/v1/whoami", nil, bearer(access)...).status,
			"A refuses the token it revoked at once")
		bc.wait(t, redisstore.TokensRevoked)
		until(t, "B still accepts the token revoked on A", func() bool {
			r := call(t, c, http.MethodGet, b.url+"/v1/whoami", nil, bearer(access)...)
			if r.status != http.StatusUnauthorized {
				require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
				return false
			}
			return true
		})
	})

	t.Run("a rate limit holds across both instances", func(t *testing.T) {
		// A key of its own in the PRIME account, whose limit is 10 a
		// minute.
		_, key := createKeyIn(t, c, a.url, keys.admin, primeAccount)
		const requests = 4 * limit
		var allowed, limited atomic.Int32
		var wg sync.WaitGroup
		for i := range requests {
			target := []*instance{a, b}[i%2].url + "/v1/whoami"
			req := newRequest(t, http.MethodGet, target, nil, bearer(key)...)
			wg.Go(func() {
				res, err := c.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				res.Body.Close()
				switch res.StatusCode {
				case http.StatusOK:
					allowed.Add(1)
				case http.StatusTooManyRequests:
					limited.Add(1)
				default:
					t.Errorf("status %d", res.StatusCode)
				}
			})
		}
		wg.Wait()
		t.Logf("rate limit %d a minute across two instances: %d of %d requests allowed", limit, allowed.Load(), requests)
		require.LessOrEqual(t, allowed.Load(), int32(limit))
		require.Positive(t, allowed.Load())
		require.EqualValues(t, requests, allowed.Load()+limited.Load())
	})

	t.Run("without Redis, a revocation reaches an instance within its cache TTL", func(t *testing.T) {
		const ttl = 500 * time.Millisecond
		noRedis := slices.Clone(args[:0])
		for i := 0; i < len(args); i += 2 {
			switch args[i] {
			case "--redis", "--redis-prefix", "--cache-ttl":
			default:
				noRedis = append(noRedis, args[i], args[i+1])
			}
		}
		d := startInstance(t, append(noRedis, "--cache-ttl", ttl.String())...)
		require.False(t, d.created)
		for range 3 {
			id, key := createKey(t, c, a.url, keys.admin)
			require.Equal(t, http.StatusOK, call(t, c, http.MethodGet, d.url+"/v1/whoami", nil, bearer(key)...).status)
			revokeKey(t, c, a.url, keys.admin, id)
			// What is checked is the passing of the cache TTL, on the
			// wall clock D's cache reads: D cached the key before the
			// revocation began, so once a TTL has passed since, D reads
			// it again and refuses it on the next request. (Waiting for
			// time to pass, not a synchronisation.)
			time.Sleep(ttl)
			require.Equal(t, http.StatusUnauthorized, call(t, c, http.MethodGet, d.url+"/v1/whoami", nil, bearer(key)...).status,
				"the cache TTL bounds how long a revoked key works")
		}
		d.stop(t)
	})

	// Last: the 199 refused redemptions are failed authentications, which
	// block the client's address for a while (shared through Redis too).
	t.Run("a one-time token redeemed 200 times at once on both: one success", func(t *testing.T) {
		// An account of its own on PRIME (checkout needs GROW or above):
		// acct_prime's budget, one for all its keys and the one-time
		// tokens they obtain, was spent by the rate-limit subtest.
		r := call(t, c, http.MethodPost, a.url+"/admin/v1/accounts", map[string]any{"name": "Checkout", "package": "PRIME"}, bearer(keys.admin)...)
		require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
		_, shopKey := createKeyIn(t, c, a.url, keys.admin, jsonBody(t, r)["id"].(string))
		r = call(t, c, http.MethodPost, a.url+"/v1/checkout/start", nil, bearer(shopKey)...)
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		token := jsonBody(t, r)["one_time_token"].(string)
		const consumers = 200
		var ok, refused atomic.Int32
		var others sync.Map
		var wg sync.WaitGroup
		startLine := make(chan struct{})
		for i := range consumers {
			target := []*instance{a, b}[i%2].url + "/v1/checkout/confirm"
			req := newRequest(t, http.MethodPost, target, nil, bearer(token)...)
			wg.Go(func() {
				<-startLine
				res, err := c.Do(req)
				if err != nil {
					others.Store(err.Error(), true)
					return
				}
				res.Body.Close()
				switch res.StatusCode {
				case http.StatusOK:
					ok.Add(1)
				case http.StatusUnauthorized, http.StatusTooManyRequests:
					refused.Add(1)
				default:
					others.Store(res.Status, true)
				}
			})
		}
		close(startLine)
		wg.Wait()
		others.Range(func(k, _ any) bool { t.Errorf("unexpected outcome: %v", k); return true })
		require.EqualValues(t, 1, ok.Load(), "exactly one redemption succeeds")
		require.EqualValues(t, consumers-1, refused.Load())
	})

	a.stop(t)
	b.stop(t)
	for _, in := range []*instance{a, b} {
		in.requireNoSecrets(t, keys.secrets()...)
	}
}

// clientFrom returns an HTTP client whose connections come from the
// loopback address ip.
func clientFrom(t *testing.T, ip string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	tr := &http.Transport{Proxy: nil, DialContext: d.DialContext, MaxIdleConnsPerHost: 8}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 15 * time.Second}
}

// mustParse parses a URL.
func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u
}
