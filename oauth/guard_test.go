package oauth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/geo"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/middleware"
	"github.com/keygate/keygate/oauth"
	"github.com/keygate/keygate/passworduser"
	"github.com/keygate/keygate/ratelimit"
)

// guardClock is a settable clock for the limiters.
type guardClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *guardClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *guardClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fakeGeo resolves the addresses it lists; the others have no country.
type fakeGeo map[string]string

func (g fakeGeo) Country(ip netip.Addr) (string, bool, error) {
	c, ok := g[ip.String()]
	return c, ok, nil
}

// countingClients counts the client lookups, to show that a blocked
// address reaches none.
type countingClients struct {
	oauth.Clients
	n atomic.Int64
}

func (c *countingClients) Get(ctx context.Context, id string) (apikey.Record, error) {
	c.n.Add(1)
	return c.Clients.Get(ctx, id)
}

func (c *countingClients) Verify(ctx context.Context, key string) (apikey.Record, error) {
	c.n.Add(1)
	return c.Clients.Verify(ctx, key)
}

// guardEnv is the OAuth endpoints and a protected route sharing one
// middleware Authenticator as their Guard, in process, so that each
// request chooses its peer address.
type guardEnv struct {
	clock      guardClock
	keys       *apikey.Manager
	clients    *countingClients
	users      *oauth.PasswordUsers
	auth       *middleware.Authenticator
	server     *oauth.Server
	token      http.Handler
	revoke     http.Handler
	introspect http.Handler
	protected  http.Handler
	sk, pk     apikey.Key
}

type guardOptions struct {
	access    middleware.AccessConfig
	audit     middleware.AuditConfig
	noGuard   bool
	httpsOnly bool
	oauthConf func(*oauth.Config)
}

func newGuardEnv(t *testing.T, o guardOptions) *guardEnv {
	t.Helper()
	ctx := context.Background()
	e := &guardEnv{clock: guardClock{now: time.Unix(1_700_000_000, 0)}}
	var err error
	e.keys, err = apikey.NewManager(apikey.Config{})
	require.NoError(t, err)
	e.clients = &countingClients{Clients: e.keys}
	e.sk = e.key(t, apikey.CreateParams{Kind: keygate.KindSecret})
	e.pk = e.key(t, apikey.CreateParams{Kind: keygate.KindPublishable})
	signing, err := jwt.GenerateKey("k1", jwt.HS256)
	require.NoError(t, err)
	set, err := jwt.NewKeySet(signing)
	require.NoError(t, err)
	issuer, err := jwt.NewIssuer(jwt.IssuerConfig{Keys: set, Issuer: testIssuer, Audience: testAudience})
	require.NoError(t, err)
	verifier, err := jwt.NewVerifier(jwt.VerifierConfig{Keys: set, Issuer: testIssuer, Audience: testAudience})
	require.NoError(t, err)
	refresh, err := jwt.NewRefreshTokens(jwt.RefreshConfig{})
	require.NoError(t, err)
	e.users, err = oauth.NewPasswordUsers(oauth.PasswordUsersConfig{Params: fastHash})
	require.NoError(t, err)
	require.NoError(t, e.users.Add(ctx, "alice", alicePassword, oauth.User{Subject: aliceSubject, Account: testAccount}))

	limiter := ratelimit.NewMemoryLimiter(ratelimit.MemoryConfig{Now: e.clock.Now})
	ac := o.access
	ac.Limiter = limiter
	e.auth, err = middleware.New(middleware.Config{APIKeys: e.keys, Tokens: verifier, Access: ac, Audit: o.audit, HTTPSOnly: o.httpsOnly})
	require.NoError(t, err)
	cfg := oauth.Config{Clients: e.clients, Issuer: issuer, Verifier: verifier, Refresh: refresh, Users: e.users, Limiter: limiter}
	if !o.noGuard {
		cfg.Guard = e.auth
	}
	if o.oauthConf != nil {
		o.oauthConf(&cfg)
	}
	e.server, err = oauth.NewServer(cfg)
	require.NoError(t, err)
	e.token, e.revoke, e.introspect = e.server.TokenHandler(), e.server.RevocationHandler(), e.server.IntrospectionHandler()
	e.protected = e.auth.Require(middleware.Rule{Publishable: true})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	return e
}

// key creates a test-mode key of acct_1 with p's kind and origin rules.
func (e *guardEnv) key(t *testing.T, p apikey.CreateParams) apikey.Key {
	t.Helper()
	p.Account, p.Mode, p.Package, p.Permissions = testAccount, keygate.ModeTest, "GO", testPerms
	if p.Kind == "" {
		p.Kind = keygate.KindSecret
	}
	k, _, err := e.keys.Create(context.Background(), p)
	require.NoError(t, err)
	return k
}

// post sends a form to h from remote, with HTTP Basic when id is set.
func post(h http.Handler, remote string, form url.Values, id, secret string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	r.RemoteAddr = remote
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// bearer calls h from remote with a bearer credential.
func bearer(h http.Handler, remote, credential string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "/v1/whoami", nil)
	r.Header.Set("Authorization", "Bearer "+credential)
	r.RemoteAddr = remote
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func clientCredentials() url.Values { return url.Values{"grant_type": {"client_credentials"}} }

func passwordForm(pk apikey.Key, username, password string) url.Values {
	return url.Values{"grant_type": {"password"}, "client_id": {pk.ID()}, "username": {username}, "password": {password}}
}

// oauthCode returns the "error" member of an OAuth error body.
func oauthCode(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var body map[string]string
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
	return body["error"]
}

// wrongSecret is a well-formed secret that is not the key's.
func wrongSecret(k apikey.Key, i int) string {
	s := k.Reveal()
	return s[:len(s)-6] + fmt.Sprintf("%06d", i)
}

func assertTooManyFailures(t *testing.T, rec *httptest.ResponseRecorder, msg string) {
	t.Helper()
	if assert.Equal(t, http.StatusTooManyRequests, rec.Code, "%s: %s", msg, rec.Body.String()) {
		assert.Equal(t, "too_many_failures", oauthCode(t, rec), msg)
		assert.Equal(t, "application/json", rec.Header().Get("Content-Type"), msg)
		retry, err := strconv.Atoi(rec.Header().Get("Retry-After"))
		assert.NoError(t, err, "%s: Retry-After %q", msg, rec.Header().Get("Retry-After"))
		assert.GreaterOrEqual(t, retry, 1, msg)
	}
}

// The OAuth endpoints count failures against the middleware's budget per
// client address, and refuse a blocked address before any key lookup.
func TestGuardFailuresShared(t *testing.T) {
	e := newGuardEnv(t, guardOptions{access: middleware.AccessConfig{AuthFailures: ratelimit.Policy{Limit: 5, Window: time.Minute}}})

	// Wrong client secrets at the token endpoint block the address there
	// and on the protected routes.
	const a = "198.51.100.1:1000"
	for i := range 5 {
		rec := post(e.token, a, clientCredentials(), e.sk.ID(), wrongSecret(e.sk, i))
		require.Equal(t, http.StatusUnauthorized, rec.Code, "failure %d", i+1)
	}
	lookups := e.clients.n.Load()
	for name, h := range map[string]http.Handler{"token": e.token, "revoke": e.revoke, "introspect": e.introspect} {
		form := clientCredentials()
		if name != "token" {
			form = url.Values{"token": {"x"}}
		}
		assertTooManyFailures(t, post(h, "198.51.100.1:2000", form, e.sk.ID(), e.sk.Reveal()), name)
	}
	assert.Equal(t, lookups, e.clients.n.Load(), "a blocked address reaches no key lookup")
	rec := bearer(e.protected, a, e.sk.Reveal())
	assert.Equal(t, http.StatusTooManyRequests, rec.Code, "blocked at /oauth/token, so blocked on the protected routes")

	// Wrong keys on the protected routes block the address at the token
	// endpoint.
	const b = "198.51.100.2:1000"
	for i := range 5 {
		require.Equal(t, http.StatusUnauthorized, bearer(e.protected, b, wrongSecret(e.sk, i)).Code)
	}
	assertTooManyFailures(t, post(e.token, b, clientCredentials(), e.sk.ID(), e.sk.Reveal()), "blocked on /v1/")

	// Wrong passwords and invalid refresh tokens count too.
	const c, d = "198.51.100.3:1000", "198.51.100.4:1000"
	for i := range 5 {
		rec := post(e.token, c, passwordForm(e.pk, "alice", fmt.Sprintf("wrong %d", i)), "", "")
		require.Equal(t, http.StatusBadRequest, rec.Code)
		require.Equal(t, "invalid_grant", oauthCode(t, rec))
	}
	assertTooManyFailures(t, post(e.token, c, passwordForm(e.pk, "alice", alicePassword), "", ""), "after wrong passwords")
	for i := range 5 {
		form := url.Values{"grant_type": {"refresh_token"}, "client_id": {e.pk.ID()}, "refresh_token": {fmt.Sprintf("%sguess%d", jwt.RefreshTokenPrefix, i)}}
		require.Equal(t, "invalid_grant", oauthCode(t, post(e.token, d, form, "", "")))
	}
	assertTooManyFailures(t, post(e.token, d, clientCredentials(), e.sk.ID(), e.sk.Reveal()), "after invalid refresh tokens")

	// Another address is unaffected, and refusals that are not guesses
	// do not count.
	const other = "198.51.100.9:1000"
	for range 10 {
		require.Equal(t, http.StatusBadRequest, post(e.token, other, url.Values{"grant_type": {"nope"}}, e.sk.ID(), e.sk.Reveal()).Code)
	}
	assert.Equal(t, http.StatusOK, post(e.token, other, clientCredentials(), e.sk.ID(), e.sk.Reveal()).Code)

	// The budget returns with time.
	e.clock.advance(time.Minute)
	assert.Equal(t, http.StatusOK, post(e.token, a, clientCredentials(), e.sk.ID(), e.sk.Reveal()).Code)
}

// The token endpoint counts against the client's rate-limit policy, in
// its account's budget.
func TestGuardTokenRateLimit(t *testing.T) {
	e := newGuardEnv(t, guardOptions{access: middleware.AccessConfig{
		RateLimit: func(p keygate.Principal) ratelimit.Policy {
			return ratelimit.Policy{Name: "acct", Limit: 3, Window: time.Minute}
		},
	}})
	const a = "192.0.2.1:1"
	for i := range 2 {
		rec := post(e.token, a, clientCredentials(), e.sk.ID(), e.sk.Reveal())
		require.Equal(t, http.StatusOK, rec.Code, "request %d: %s", i+1, rec.Body.String())
		assert.Equal(t, `"acct";q=3;w=60`, rec.Header().Get("RateLimit-Policy"))
	}
	// The account's API key uses the same budget on the protected route.
	assert.Equal(t, http.StatusNoContent, bearer(e.protected, a, e.sk.Reveal()).Code)
	rec := post(e.token, a, clientCredentials(), e.sk.ID(), e.sk.Reveal())
	require.Equal(t, http.StatusTooManyRequests, rec.Code, rec.Body.String())
	assert.Equal(t, "rate_limited", oauthCode(t, rec))
	assert.Equal(t, "20", rec.Header().Get("Retry-After"))
	assert.Equal(t, `"acct";r=0;t=60`, rec.Header().Get("RateLimit"))
	// A public client's password grant is counted too, and refused
	// before the password is checked.
	rec = post(e.token, a, passwordForm(e.pk, "alice", alicePassword), "", "")
	assert.Equal(t, http.StatusTooManyRequests, rec.Code)
	e.clock.advance(20 * time.Second)
	assert.Equal(t, http.StatusOK, post(e.token, a, passwordForm(e.pk, "alice", alicePassword), "", "").Code)
}

// The endpoints apply the middleware's origin check: denied addresses,
// the key's country rules and the service's country rules, not only the
// allowed addresses.
func TestGuardOriginAtTokenEndpoint(t *testing.T) {
	countries, err := geo.ParseRules(geo.RulesConfig{Deny: []string{"KP"}})
	require.NoError(t, err)
	e := newGuardEnv(t, guardOptions{access: middleware.AccessConfig{
		Geo:       fakeGeo{"192.0.2.1": "SE", "192.0.2.2": "US", "192.0.2.3": "KP"},
		Countries: countries,
	}})
	deniedIP := e.key(t, apikey.CreateParams{Grant: keygate.Grant{DeniedIPs: []string{"192.0.2.66"}}})
	notUS := e.key(t, apikey.CreateParams{Grant: keygate.Grant{DeniedCountries: []string{"US"}}})
	onlySE := e.key(t, apikey.CreateParams{Grant: keygate.Grant{AllowedCountries: []string{"SE"}}})
	for _, tc := range []struct {
		name   string
		key    apikey.Key
		remote string
		want   int
	}{
		{"denied IP", deniedIP, "192.0.2.66:1", 401},
		{"denied IP, other address", deniedIP, "192.0.2.1:1", 200},
		{"denied country", notUS, "192.0.2.2:1", 401},
		{"denied country, other country", notUS, "192.0.2.1:1", 200},
		{"allowed country", onlySE, "192.0.2.1:1", 200},
		{"not the allowed country", onlySE, "192.0.2.2:1", 401},
		{"unknown country", onlySE, "192.0.2.9:1", 401},
		{"the service's country rule", e.sk, "192.0.2.3:1", 401},
		{"the service's country rule, elsewhere", e.sk, "192.0.2.1:1", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := post(e.token, tc.remote, clientCredentials(), tc.key.ID(), tc.key.Reveal())
			require.Equal(t, tc.want, rec.Code, rec.Body.String())
			if tc.want == 401 {
				assert.Equal(t, "invalid_client", oauthCode(t, rec))
				// The protected routes refuse the key from there too.
				assert.Equal(t, http.StatusForbidden, bearer(e.protected, tc.remote, tc.key.Reveal()).Code)
				// And so do the other endpoints.
				rec = post(e.introspect, tc.remote, url.Values{"token": {"x"}}, tc.key.ID(), tc.key.Reveal())
				assert.Equal(t, http.StatusUnauthorized, rec.Code)
			}
		})
	}
}

// Without a Guard the endpoints are unthrottled as before, but the origin
// rules are the middleware's all the same: a denied address is refused,
// and so is a key with country rules (no country database: fail closed).
func TestNoGuardOrigin(t *testing.T) {
	e := newGuardEnv(t, guardOptions{noGuard: true})
	deniedIP := e.key(t, apikey.CreateParams{Grant: keygate.Grant{DeniedIPs: []string{"192.0.2.66"}}})
	onlySE := e.key(t, apikey.CreateParams{Grant: keygate.Grant{AllowedCountries: []string{"SE"}}})
	assert.Equal(t, http.StatusUnauthorized, post(e.token, "192.0.2.66:1", clientCredentials(), deniedIP.ID(), deniedIP.Reveal()).Code)
	assert.Equal(t, http.StatusOK, post(e.token, "192.0.2.1:1", clientCredentials(), deniedIP.ID(), deniedIP.Reveal()).Code)
	assert.Equal(t, http.StatusUnauthorized, post(e.token, "192.0.2.1:1", clientCredentials(), onlySE.ID(), onlySE.Reveal()).Code)
	for i := range 150 {
		require.Equal(t, http.StatusUnauthorized, post(e.token, "192.0.2.5:1", clientCredentials(), e.sk.ID(), wrongSecret(e.sk, i)).Code)
	}
	assert.Equal(t, http.StatusOK, post(e.token, "192.0.2.5:1", clientCredentials(), e.sk.ID(), e.sk.Reveal()).Code, "no failure budget without a Guard")
}

// Wrong passwords for one user name from many addresses are bounded, but
// never from an address the user recently signed in from, and only for a
// short while.
func TestUserFailureBackoff(t *testing.T) {
	e := newGuardEnv(t, guardOptions{oauthConf: func(c *oauth.Config) {
		c.UserFailures = ratelimit.Policy{Limit: 3, Window: 3 * time.Minute}
	}})
	const home = "203.0.113.10:1"
	require.Equal(t, http.StatusOK, post(e.token, home, passwordForm(e.pk, "alice", alicePassword), "", "").Code)

	// An attacker guesses from three addresses, then from a fourth.
	for i := range 3 {
		rec := post(e.token, fmt.Sprintf("198.51.100.%d:1", i+1), passwordForm(e.pk, "alice", "guess"), "", "")
		require.Equal(t, "invalid_grant", oauthCode(t, rec), "guess %d", i+1)
	}
	rec := post(e.token, "198.51.100.4:1", passwordForm(e.pk, "alice", "guess"), "", "")
	assertTooManyFailures(t, rec, "a fourth address")
	assert.Contains(t, rec.Body.String(), "user name")
	assert.Equal(t, "60", rec.Header().Get("Retry-After"), "one guess a minute: never a longer wait")
	// Even the right password waits, from an address alice never used.
	assertTooManyFailures(t, post(e.token, "198.51.100.5:1", passwordForm(e.pk, "alice", alicePassword), "", ""), "a new address")
	// From her own address she signs in at once.
	assert.Equal(t, http.StatusOK, post(e.token, home, passwordForm(e.pk, "alice", alicePassword), "", "").Code, "not locked out from her own address")
	// Unknown names are counted alike: the answer tells nothing.
	for range 3 {
		post(e.token, "198.51.100.6:1", passwordForm(e.pk, "nobody", "guess"), "", "")
	}
	assertTooManyFailures(t, post(e.token, "198.51.100.6:1", passwordForm(e.pk, "nobody", "guess"), "", ""), "an unknown name")
	// A minute later the next attempt is allowed: the bound delays, it
	// does not lock.
	e.clock.advance(time.Minute)
	assert.Equal(t, http.StatusOK, post(e.token, "198.51.100.5:1", passwordForm(e.pk, "alice", alicePassword), "", "").Code)
	// That address is now known to be hers.
	for i := range 3 {
		post(e.token, fmt.Sprintf("198.51.100.%d:1", 20+i), passwordForm(e.pk, "alice", "guess"), "", "")
	}
	assert.Equal(t, http.StatusOK, post(e.token, "198.51.100.5:1", passwordForm(e.pk, "alice", alicePassword), "", "").Code)
	assertTooManyFailures(t, post(e.token, "198.51.100.30:1", passwordForm(e.pk, "alice", alicePassword), "", ""), "yet another address")
}

// Known addresses expire, and a negative KnownAddressTTL trusts none.
func TestUserFailureKnownAddressTTL(t *testing.T) {
	for _, ttl := range []time.Duration{time.Hour, -1} {
		t.Run(fmt.Sprint(ttl), func(t *testing.T) {
			e := newGuardEnv(t, guardOptions{oauthConf: func(c *oauth.Config) {
				c.UserFailures = ratelimit.Policy{Limit: 2, Window: 24 * time.Hour}
				c.KnownAddressTTL = ttl
			}})
			const home = "203.0.113.10:1"
			require.Equal(t, http.StatusOK, post(e.token, home, passwordForm(e.pk, "alice", alicePassword), "", "").Code)
			for range 2 {
				post(e.token, "198.51.100.1:1", passwordForm(e.pk, "alice", "guess"), "", "")
			}
			rec := post(e.token, home, passwordForm(e.pk, "alice", alicePassword), "", "")
			if ttl < 0 {
				assertTooManyFailures(t, rec, "no known addresses")
				return
			}
			assert.Equal(t, http.StatusOK, rec.Code)
			e.clock.advance(time.Hour + time.Second)
			assertTooManyFailures(t, post(e.token, home, passwordForm(e.pk, "alice", alicePassword), "", ""), "known no longer")
		})
	}
}

// gatedStore holds every lookup of the name "slow" until the gate opens,
// as a slow password check would, and reports each one that started.
type gatedStore struct {
	passworduser.Store
	gate    chan struct{}
	started chan struct{}
}

func (s *gatedStore) Get(ctx context.Context, username string) (passworduser.Record, error) {
	if username == "slow" {
		s.started <- struct{}{}
		<-s.gate
	}
	return s.Store.Get(ctx, username)
}

// One address holding many checks in flight takes one slot, not all of
// them: another address's sign-in still finds one.
func TestPasswordUsersFairPerAddress(t *testing.T) {
	store := &gatedStore{Store: passworduser.NewMemoryStore(), gate: make(chan struct{}), started: make(chan struct{}, 16)}
	users, err := oauth.NewPasswordUsers(oauth.PasswordUsersConfig{Store: store, Params: fastHash})
	require.NoError(t, err)
	ctx := t.Context()
	require.NoError(t, users.Add(ctx, "alice", alicePassword, oauth.User{Subject: aliceSubject, Account: testAccount}))

	attacker := netip.MustParseAddr("198.51.100.66")
	var wg sync.WaitGroup
	results := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := users.AuthenticateFrom(ctx, attacker, "slow", "guess")
			results <- err
		})
	}
	// Each of the eight is either under way (held at the gate) or refused.
	underWay, busy := 0, 0
	for underWay+busy < 8 {
		select {
		case <-store.started:
			underWay++
		case err := <-results:
			require.ErrorIs(t, err, oauth.ErrBusy)
			busy++
		}
	}
	assert.Equal(t, 1, underWay, "one address holds one slot")
	assert.Equal(t, 7, busy)

	for _, from := range []string{"203.0.113.1", "203.0.113.2", "2001:db8::1", "203.0.113.3"} {
		u, err := users.AuthenticateFrom(ctx, netip.MustParseAddr(from), "alice", alicePassword)
		require.NoError(t, err, "a sign-in from %s while the attacker's checks are in flight", from)
		assert.Equal(t, aliceSubject, u.Subject)
	}
	// An IPv6 client counts with its /64.
	v6 := make(chan error, 1)
	go func() {
		_, err := users.AuthenticateFrom(ctx, netip.MustParseAddr("2001:db8:0:1::1"), "slow", "guess")
		v6 <- err
	}()
	<-store.started
	_, err = users.AuthenticateFrom(ctx, netip.MustParseAddr("2001:db8:0:1::2"), "alice", alicePassword)
	assert.ErrorIs(t, err, oauth.ErrBusy, "the same /64")
	_, err = users.AuthenticateFrom(ctx, netip.MustParseAddr("2001:db8:0:2::1"), "alice", alicePassword)
	assert.NoError(t, err, "another /64")

	close(store.gate)
	wg.Wait()
	assert.ErrorIs(t, <-results, oauth.ErrBadCredentials)
	assert.ErrorIs(t, <-v6, oauth.ErrBadCredentials)
	// Every slot is free again.
	_, err = users.AuthenticateFrom(ctx, attacker, "alice", alicePassword)
	assert.NoError(t, err)
}
