package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/password"
	"github.com/keygate/keygate/ratelimit"
)

// throttleServer is the reference server in process, with the demo data,
// where each request chooses its peer address: the handler is called
// with r.RemoteAddr set, as net/http sets it for a TCP peer.
type throttleServer struct {
	handler http.Handler
	demo    demo
}

// newThrottleServer starts the server. With cheap, the password hashes
// are cheap and the limiter's clock stands still, so that budgets do not
// refill while a test spends them.
func newThrottleServer(t *testing.T, cheap bool) *throttleServer {
	t.Helper()
	ctx := context.Background()
	opts := serveConfig{
		accessTokenTTL: 15 * time.Minute, issuer: "http://keygate.test", audience: "keygate", noAudit: true, authorities: []string{"keygate.test"},
		demoRateLimit: ratelimit.Policy{Name: "demo", Limit: 20, Window: 10 * time.Second},
	}
	if cheap {
		frozen := time.Now()
		opts.limiterNow = func() time.Time { return frozen }
		opts.passwordParams = password.Params{Memory: 64, Time: 1, Threads: 1}
	}
	st, err := openStorage(ctx, storeOptions{db: "memory", cacheTTL: time.Minute}, io.Discard)
	require.NoError(t, err)
	t.Cleanup(func() { st.close() })
	a, err := newApp(ctx, opts, st, io.Discard)
	require.NoError(t, err)
	d, created, err := a.bootstrap(ctx)
	require.NoError(t, err)
	require.True(t, created)
	return &throttleServer{handler: a.handler, demo: d}
}

type throttleReply struct {
	status int
	header http.Header
	body   map[string]any
}

// do sends a request from peer (host:port).
func (s *throttleServer) do(t *testing.T, peer, method, path string, form url.Values, header ...string) throttleReply {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, path, body)
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	r.RemoteAddr = peer
	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, r)
	out := throttleReply{status: rec.Code, header: rec.Header()}
	_ = json.Unmarshal(rec.Body.Bytes(), &out.body)
	return out
}

func (s *throttleServer) password(t *testing.T, peer, username, password string) throttleReply {
	t.Helper()
	return s.do(t, peer, http.MethodPost, "/oauth/token", url.Values{
		"grant_type": {"password"}, "client_id": {s.demo.publishable.ID()}, "username": {username}, "password": {password},
	})
}

func requireTooManyFailures(t *testing.T, r throttleReply, what string) {
	t.Helper()
	require.Equal(t, http.StatusTooManyRequests, r.status, "%s: %v", what, r.body)
	assert.Equal(t, "too_many_failures", r.body["error"], what)
	assert.NotEmpty(t, r.header.Get("Retry-After"), what)
}

// 110 wrong passwords from one address: 429 too_many_failures long before
// the 110th, and the address is blocked on /v1/ as well.
func TestServeThrottlesWrongPasswords(t *testing.T) {
	s := newThrottleServer(t, true)
	const attacker = "198.51.100.66:40000"
	refusedAt := 0
	for i := 1; i <= 110; i++ {
		// A new user name each time: the per-address budget, not the
		// per-user one, is what stops this.
		r := s.password(t, attacker, fmt.Sprintf("user%d", i), "wrong password")
		if r.status == http.StatusTooManyRequests {
			requireTooManyFailures(t, r, "guess")
			refusedAt = i
			break
		}
		require.Equal(t, http.StatusBadRequest, r.status, "guess %d: %v", i, r.body)
		require.Equal(t, "invalid_grant", r.body["error"])
	}
	assert.Equal(t, 101, refusedAt, "the 101st guess from one address is refused: the budget is 100 a minute")
	requireTooManyFailures(t, s.password(t, "198.51.100.66:40001", "demo", s.demo.password), "the right password from the blocked address")
	r := s.do(t, attacker, http.MethodGet, "/v1/whoami", nil, "Authorization", "Bearer "+s.demo.secret.Reveal())
	requireTooManyFailures(t, r, "blocked at /oauth/token, so blocked on /v1/")
	// Elsewhere, the user signs in.
	assert.Equal(t, http.StatusOK, s.password(t, "203.0.113.5:1", "demo", s.demo.password).status)

	// Guesses at one user name from many addresses are bounded too.
	refusedAt = 0
	for i := 1; i <= 20; i++ {
		r := s.password(t, fmt.Sprintf("192.0.2.%d:1", i), "demo", "wrong password")
		if r.status == http.StatusTooManyRequests {
			requireTooManyFailures(t, r, "a spread guess")
			refusedAt = i
			break
		}
	}
	assert.Equal(t, 11, refusedAt, "ten guesses at one user name, then one a minute")
	assert.Equal(t, http.StatusOK, s.password(t, "203.0.113.5:2", "demo", s.demo.password).status, "not locked out from an address used before")
}

// An address blocked on /v1/ is blocked at /oauth/token (where it could
// otherwise go on testing keys).
func TestServeBlockedOnV1BlockedAtToken(t *testing.T) {
	s := newThrottleServer(t, true)
	const attacker = "198.51.100.77:40000"
	secret := s.demo.secret.Reveal()
	for i := range 100 {
		guess := secret[:len(secret)-6] + fmt.Sprintf("%06d", i)
		r := s.do(t, attacker, http.MethodGet, "/v1/whoami", nil, "Authorization", "Bearer "+guess)
		require.Equal(t, http.StatusUnauthorized, r.status, "guess %d", i+1)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {s.demo.secret.ID()}, "client_secret": {secret}}
	requireTooManyFailures(t, s.do(t, attacker, http.MethodPost, "/oauth/token", form), "the token endpoint")
	requireTooManyFailures(t, s.do(t, attacker, http.MethodPost, "/oauth/introspect", url.Values{"token": {"x"}, "client_id": {s.demo.secret.ID()}, "client_secret": {secret}}), "introspection")
	assert.Equal(t, http.StatusOK, s.do(t, "203.0.113.5:1", http.MethodPost, "/oauth/token", form).status, "another address")
}

// One address holding eight guesses in flight does not make sign-ins
// from another address fail with 503. The hashes cost what they cost in
// production, so that the guesses hold their slots.
func TestServePasswordChecksShared(t *testing.T) {
	s := newThrottleServer(t, false)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var busy atomic.Int64
	for g := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				// A new name each time (no per-user bound), from one
				// address.
				r := s.password(t, "198.51.100.88:1", fmt.Sprintf("guess%d-%d", g, i), "wrong password")
				if r.status != http.StatusBadRequest {
					busy.Add(1)
					time.Sleep(5 * time.Millisecond) // refused at once: do not spin on two cores
				}
			}
		})
	}
	for i := range 5 {
		r := s.password(t, fmt.Sprintf("203.0.113.%d:1", 10+i), "demo", s.demo.password)
		assert.Equal(t, http.StatusOK, r.status, "legitimate sign-in %d while the attacker's guesses are in flight: %v", i+1, r.body)
	}
	close(stop)
	wg.Wait()
	t.Logf("the attacker's guesses refused at once meanwhile: %d", busy.Load())
}
