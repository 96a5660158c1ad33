package oauth_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/account"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/middleware"
	"github.com/keygate/keygate/oauth"
	"github.com/keygate/keygate/password"
)

// The fixture: one account (acct_1) with a test key pair, a second secret
// key and keys in every unusable state; another account (acct_2) with its
// own pair; two users; and an httptest server with the three OAuth
// endpoints and a protected /v1/whoami. Every response that server writes
// is audited for secrets (see fixture.audit).

const (
	testAccount  = "acct_1"
	otherAccount = "acct_2"
	testIssuer   = "https://keygate.test"
	testAudience = "api"

	aliceSubject    = "user_alice"
	alicePassword   = "correct horse battery staple 7Qx"
	malloryPassword = "mallory's own passphrase 4Zr"

	unknownClientID = "0000000000000000"
)

var testPerms = []string{"products:read", "products:write", "orders:read"}

// fastHash keeps Argon2id cheap in tests (64 KiB, one pass).
var fastHash = password.Params{Memory: 64, Time: 1, Threads: 1}

type options struct {
	accessTTL time.Duration
	noUsers   bool
	noRefresh bool
	accounts  bool // look accounts up (oauth.Config.Accounts and the middleware's), in fixture.accounts
}

type fixture struct {
	keys     *apikey.Manager
	accounts *account.Manager // with options.accounts: acct_1 and acct_2, on the fixture's clock
	keySet   *jwt.KeySet
	issuer   *jwt.Issuer
	verifier *jwt.Verifier
	refresh  *jwt.RefreshTokens
	users    *oauth.PasswordUsers
	server   *oauth.Server
	srv      *httptest.Server
	offset   atomic.Int64 // added to the real clock, in nanoseconds

	pk, sk           apikey.Key // acct_1's test pair
	sk2              apikey.Key // another secret key of acct_1
	otherPK, otherSK apikey.Key // acct_2's test pair

	revokedSK, disabledSK, pendingSK apikey.Key // secret keys that cannot authenticate
	revokedPK, disabledPK, pendingPK apikey.Key // publishable keys that cannot authenticate
	staleID, staleSecret             string     // a well-formed secret replaced by a rotation

	mu         sync.Mutex
	secrets    map[string]string // label → text no response may contain
	refreshed  []string          // every refresh token returned so far
	violations []string
	hits       map[string]int   // requests per path
	changes    []keygate.Change // reported by OnChange
}

func newFixture(t testing.TB, opts options) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{secrets: map[string]string{}, hits: map[string]int{}}
	var err error
	f.keys, err = apikey.NewManager(apikey.Config{Now: f.now})
	require.NoError(t, err)

	create := func(label, account string, mode keygate.Mode, kind keygate.Kind) apikey.Key {
		k, _, err := f.keys.Create(ctx, apikey.CreateParams{
			Grant: keygate.Grant{
				Account:     account,
				Mode:        mode,
				Stores:      []string{"store_1"},
				Package:     "GO",
				Permissions: testPerms,
			}, Kind: kind, Name: label})
		require.NoError(t, err)
		f.secrets["key "+label] = k.Reveal()
		return k
	}
	f.pk = create("pk", testAccount, keygate.ModeTest, keygate.KindPublishable)
	f.sk = create("sk", testAccount, keygate.ModeTest, keygate.KindSecret)
	f.sk2 = create("sk2", testAccount, keygate.ModeTest, keygate.KindSecret)
	f.otherPK = create("otherPK", otherAccount, keygate.ModeTest, keygate.KindPublishable)
	f.otherSK = create("otherSK", otherAccount, keygate.ModeTest, keygate.KindSecret)
	f.revokedSK = create("revokedSK", testAccount, keygate.ModeTest, keygate.KindSecret)
	f.disabledSK = create("disabledSK", testAccount, keygate.ModeTest, keygate.KindSecret)
	f.pendingSK = create("pendingSK", testAccount, keygate.ModeLive, keygate.KindSecret)
	f.revokedPK = create("revokedPK", testAccount, keygate.ModeTest, keygate.KindPublishable)
	f.disabledPK = create("disabledPK", testAccount, keygate.ModeTest, keygate.KindPublishable)
	f.pendingPK = create("pendingPK", testAccount, keygate.ModeLive, keygate.KindPublishable)
	for _, k := range []apikey.Key{f.revokedSK, f.revokedPK} {
		_, err = f.keys.Revoke(ctx, k.ID())
		require.NoError(t, err)
	}
	for _, k := range []apikey.Key{f.disabledSK, f.disabledPK} {
		_, err = f.keys.Disable(ctx, k.ID())
		require.NoError(t, err)
	}
	stale := create("stale", testAccount, keygate.ModeTest, keygate.KindSecret)
	f.staleID, f.staleSecret = stale.ID(), stale.Reveal()
	fresh, _, err := f.keys.Rotate(ctx, stale.ID(), 0)
	require.NoError(t, err)
	f.secrets["key stale, rotated"] = fresh.Reveal()

	signing, err := jwt.GenerateKey("k1", jwt.HS256)
	require.NoError(t, err)
	f.keySet, err = jwt.NewKeySet(signing)
	require.NoError(t, err)
	f.issuer, err = jwt.NewIssuer(jwt.IssuerConfig{Keys: f.keySet, Issuer: testIssuer, Audience: testAudience, AccessTTL: opts.accessTTL, Now: f.now})
	require.NoError(t, err)
	f.verifier, err = jwt.NewVerifier(jwt.VerifierConfig{Keys: f.keySet, Issuer: testIssuer, Audience: testAudience, Now: f.now})
	require.NoError(t, err)

	cfg := oauth.Config{Clients: f.keys, Issuer: f.issuer, Verifier: f.verifier, Now: f.now, OnChange: f.onChange}
	if !opts.noRefresh {
		f.refresh, err = jwt.NewRefreshTokens(jwt.RefreshConfig{Now: f.now, OnChange: f.onChange, Denylist: f.verifier.Denylist()})
		require.NoError(t, err)
		cfg.Refresh = f.refresh
	}
	f.users, err = oauth.NewPasswordUsers(oauth.PasswordUsersConfig{Params: fastHash})
	require.NoError(t, err)
	require.NoError(t, f.users.Add(context.Background(), "alice", alicePassword, oauth.User{Subject: aliceSubject, Account: testAccount}))
	require.NoError(t, f.users.Add(context.Background(), "mallory", malloryPassword, oauth.User{Subject: "user_mallory", Account: otherAccount}))
	f.secrets["alice's password"] = alicePassword
	f.secrets["mallory's password"] = malloryPassword
	if !opts.noUsers {
		cfg.Users = f.users
	}
	mwCfg := middleware.Config{APIKeys: f.keys, Tokens: f.verifier, ClientKeys: f.keys}
	if opts.accounts {
		f.accounts, err = account.NewManager(account.Config{Now: f.now})
		require.NoError(t, err)
		for _, id := range []string{testAccount, otherAccount} {
			_, err = f.accounts.Create(context.Background(), account.CreateParams{ID: id, Name: id})
			require.NoError(t, err)
		}
		cfg.Accounts, mwCfg.Accounts = f.accounts, f.accounts
	}
	f.server, err = oauth.NewServer(cfg)
	require.NoError(t, err)

	auth, err := middleware.New(mwCfg)
	require.NoError(t, err)
	mux := http.NewServeMux()
	// Registered without a method, so that the handlers answer GET too.
	mux.Handle("/oauth/token", f.server.TokenHandler())
	mux.Handle("/oauth/revoke", f.server.RevocationHandler())
	mux.Handle("/oauth/introspect", f.server.IntrospectionHandler())
	mux.Handle("/v1/whoami", auth.Require(middleware.Rule{Publishable: true})(http.HandlerFunc(whoami)))
	mux.Handle("/v1/secret-only", auth.Handler(http.HandlerFunc(whoami)))
	f.srv = httptest.NewServer(f.audit(mux))
	t.Cleanup(func() {
		f.srv.Close() // waits for the handlers, and so for their audits
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, v := range f.violations {
			t.Error(v)
		}
	})
	return f
}

// now is the fixture's clock: the real clock plus what advance added, so
// that x/oauth2, which reads the real clock, agrees with the server.
func (f *fixture) now() time.Time { return time.Now().Add(time.Duration(f.offset.Load())) }

func (f *fixture) advance(d time.Duration) { f.offset.Add(int64(d)) }

func (f *fixture) onChange(_ context.Context, c keygate.Change) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.changes = append(f.changes, c)
}

// changesOf returns the changes with that action reported so far.
func (f *fixture) changesOf(action keygate.Action) []keygate.Change {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []keygate.Change
	for _, c := range f.changes {
		if c.Action == action {
			out = append(out, c)
		}
	}
	return out
}

func (f *fixture) tokenHits() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits["/oauth/token"]
}

// whoami answers with the Principal the middleware found.
func whoami(w http.ResponseWriter, r *http.Request) {
	p, ok := keygate.FromContext(r.Context())
	if !ok {
		http.Error(w, "no principal", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(p)
}

// teeWriter keeps a copy of what a handler writes.
type teeWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (w *teeWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *teeWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.body.Write(p)
	return w.ResponseWriter.Write(p)
}

// audit wraps the whole server: every response, whoever sent the request
// (these tests or x/oauth2), is checked by fixture.check.
func (f *fixture) audit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &teeWriter{ResponseWriter: w}
		next.ServeHTTP(tw, r)
		if tw.status == 0 {
			tw.status = http.StatusOK
		}
		f.check(r.Method+" "+r.URL.Path, r.URL.Path, tw.status, w.Header(), tw.body.String())
	})
}

// check records a violation when a response is a 5xx, or contains an API
// key, a user's password, or a refresh token other than the one it
// legitimately returns (once, in refresh_token), or returns a refresh
// token that was returned before.
func (f *fixture) check(what, path string, status int, header http.Header, body string) {
	var resp struct {
		RefreshToken string `json:"refresh_token"`
	}
	_ = json.Unmarshal([]byte(body), &resp)
	var text strings.Builder
	names := make([]string, 0, len(header))
	for name := range header {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(&text, "%s: %s\n", name, strings.Join(header[name], ", "))
	}
	text.WriteString(body)
	all := text.String()

	f.mu.Lock()
	defer f.mu.Unlock()
	f.hits[path]++
	fail := func(format string, args ...any) {
		f.violations = append(f.violations, what+": "+fmt.Sprintf(format, args...))
	}
	if status >= 500 {
		fail("status %d", status)
	}
	for label, s := range f.secrets {
		if strings.Contains(all, s) {
			fail("the response contains %s", label)
		}
	}
	for i, rt := range f.refreshed {
		if rt == resp.RefreshToken {
			fail("the response returns refresh token #%d again", i)
		} else if strings.Contains(all, rt) {
			fail("the response contains refresh token #%d", i)
		}
	}
	if resp.RefreshToken != "" {
		if n := strings.Count(all, resp.RefreshToken); n != 1 {
			fail("the returned refresh token appears %d times", n)
		}
		f.refreshed = append(f.refreshed, resp.RefreshToken)
	}
}

// req describes a request to the fixture's server.
type req struct {
	method string     // "" means POST
	path   string     // "" means /oauth/token
	query  string     // appended to the path, with its "?"
	form   url.Values // the body, form-encoded
	body   *string    // a raw body instead of form
	ctype  *string    // nil means application/x-www-form-urlencoded
	basic  []string   // client ID and secret for HTTP Basic, form-encoded as RFC 6749 §2.3.1 says
	authz  string     // a raw Authorization header
	bearer string     // Authorization: Bearer
}

type response struct {
	status int
	header http.Header
	body   string
	json   map[string]any
}

func (r response) str(name string) string {
	s, _ := r.json[name].(string)
	return s
}

func (f *fixture) do(t testing.TB, rq req) response {
	t.Helper()
	resp, err := f.send(t.Context(), rq)
	require.NoError(t, err)
	return resp
}

// send is do for goroutines other than the test's, which must not call
// t.FailNow.
func (f *fixture) send(ctx context.Context, rq req) (response, error) {
	method, path := rq.method, rq.path
	if method == "" {
		method = http.MethodPost
	}
	if path == "" {
		path = "/oauth/token"
	}
	body := rq.form.Encode()
	if rq.body != nil {
		body = *rq.body
	}
	var rd io.Reader
	if body != "" || method == http.MethodPost {
		rd = strings.NewReader(body)
	}
	hr, err := http.NewRequestWithContext(ctx, method, f.srv.URL+path+rq.query, rd)
	if err != nil {
		return response{}, err
	}
	switch {
	case rq.ctype != nil:
		if *rq.ctype != "" {
			hr.Header.Set("Content-Type", *rq.ctype)
		}
	case method == http.MethodPost:
		hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if rq.basic != nil {
		hr.SetBasicAuth(url.QueryEscape(rq.basic[0]), url.QueryEscape(rq.basic[1]))
	}
	if rq.authz != "" {
		hr.Header.Set("Authorization", rq.authz)
	}
	if rq.bearer != "" {
		hr.Header.Set("Authorization", "Bearer "+rq.bearer)
	}
	resp, err := f.srv.Client().Do(hr)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	out := response{status: resp.StatusCode, header: resp.Header, body: string(b)}
	_ = json.Unmarshal(b, &out.json)
	return out, nil
}

// form builds url.Values from name, value pairs.
func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func ptr(s string) *string { return &s }

func basicOf(k apikey.Key) []string { return []string{k.ID(), k.Reveal()} }

// clientCredentials asks for a token as the confidential client sk, by
// HTTP Basic.
func (f *fixture) clientCredentials(t testing.TB, k apikey.Key, scope string) response {
	t.Helper()
	fm := form("grant_type", "client_credentials")
	if scope != "" {
		fm.Set("scope", scope)
	}
	return f.do(t, req{form: fm, basic: basicOf(k)})
}

// accessToken returns a client_credentials access token of k.
func (f *fixture) accessToken(t testing.TB, k apikey.Key) string {
	t.Helper()
	resp := f.clientCredentials(t, k, "")
	require.Equal(t, http.StatusOK, resp.status, resp.body)
	return resp.str("access_token")
}

// passwordGrant signs a user in through the public client with key ID
// clientID.
func (f *fixture) passwordGrant(t testing.TB, clientID, username, pw, scope string) response {
	t.Helper()
	fm := form("grant_type", "password", "client_id", clientID, "username", username, "password", pw)
	if scope != "" {
		fm.Set("scope", scope)
	}
	return f.do(t, req{form: fm})
}

// signIn signs alice in through the public client and returns her access
// and refresh tokens.
func (f *fixture) signIn(t testing.TB) (access, refresh string) {
	t.Helper()
	resp := f.passwordGrant(t, f.pk.ID(), "alice", alicePassword, "")
	require.Equal(t, http.StatusOK, resp.status, resp.body)
	require.NotEmpty(t, resp.str("refresh_token"))
	return resp.str("access_token"), resp.str("refresh_token")
}

// refreshGrant exchanges a refresh token as the public client clientID.
func (f *fixture) refreshGrant(t testing.TB, clientID, token, scope string) response {
	t.Helper()
	fm := form("grant_type", "refresh_token", "client_id", clientID, "refresh_token", token)
	if scope != "" {
		fm.Set("scope", scope)
	}
	return f.do(t, req{form: fm})
}

// whoamiWith calls the protected route with a bearer token.
func (f *fixture) whoamiWith(t testing.TB, token string) (int, keygate.Principal) {
	t.Helper()
	resp := f.do(t, req{method: http.MethodGet, path: "/v1/whoami", bearer: token})
	var p keygate.Principal
	if resp.status == http.StatusOK {
		require.NoError(t, json.Unmarshal([]byte(resp.body), &p))
	}
	return resp.status, p
}

// requireError checks an RFC 6749 §5.2 error response.
func requireError(t testing.TB, resp response, status int, code string) {
	t.Helper()
	require.Equal(t, status, resp.status, resp.body)
	assert.Equal(t, code, resp.str("error"), resp.body)
	assert.NotEmpty(t, resp.str("error_description"))
	assert.Equal(t, "application/json", resp.header.Get("Content-Type"))
	assert.Equal(t, "no-store", resp.header.Get("Cache-Control"))
	assert.NotContains(t, resp.json, "access_token")
	assert.NotContains(t, resp.json, "refresh_token")
	if status == http.StatusUnauthorized {
		assert.NotEmpty(t, resp.header.Get("WWW-Authenticate"), "a 401 needs a challenge")
	}
}

// requireTokenResponse checks an RFC 6749 §5.1 response and returns the
// verified claims of its access token.
func (f *fixture) requireTokenResponse(t testing.TB, resp response, scope string, withRefresh bool) jwt.Claims {
	t.Helper()
	require.Equal(t, http.StatusOK, resp.status, resp.body)
	assert.Equal(t, "application/json", resp.header.Get("Content-Type"))
	assert.Equal(t, "no-store", resp.header.Get("Cache-Control"))
	assert.Equal(t, "no-cache", resp.header.Get("Pragma"))
	want := []string{"access_token", "expires_in", "scope", "token_type"}
	if withRefresh {
		want = append(want, "refresh_token")
	}
	sort.Strings(want)
	var got []string
	for k := range resp.json {
		got = append(got, k)
	}
	sort.Strings(got)
	assert.Equal(t, want, got, resp.body)
	assert.Equal(t, "Bearer", resp.str("token_type"))
	assert.Equal(t, float64(900), resp.json["expires_in"])
	assert.Equal(t, scope, resp.str("scope"))
	if withRefresh {
		rt := resp.str("refresh_token")
		assert.True(t, strings.HasPrefix(rt, jwt.RefreshTokenPrefix))
		assert.Len(t, rt, jwt.RefreshTokenLen)
	}
	claims, err := f.verifier.Verify(t.Context(), resp.str("access_token"))
	require.NoError(t, err)
	assert.Equal(t, scope, claims.Scope)
	assert.Equal(t, strings.Fields(scope), claims.Permissions)
	return claims
}

// payload decodes the claims of a JWT without verifying it, to look at
// claim names.
func payload(t testing.TB, token string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3)
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, dst))
	}
	return header, claims
}

var allScope = strings.Join(testPerms, " ")

func TestClientCredentials(t *testing.T) {
	f := newFixture(t, options{})
	cc := form("grant_type", "client_credentials")
	percentAll := func(s string) string {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			fmt.Fprintf(&b, "%%%02X", s[i])
		}
		return b.String()
	}
	withSecret := func(extra ...string) url.Values {
		v := form(append([]string{"grant_type", "client_credentials", "client_id", f.sk.ID(), "client_secret", f.sk.Reveal()}, extra...)...)
		return v
	}
	for _, tc := range []struct {
		name string
		rq   req
	}{
		{"Basic", req{form: cc, basic: basicOf(f.sk)}},
		{"form body", req{form: withSecret()}},
		{"Basic, every byte percent-encoded (RFC 6749 §2.3.1)", req{form: cc, authz: "Basic " +
			base64.StdEncoding.EncodeToString([]byte(percentAll(f.sk.ID())+":"+percentAll(f.sk.Reveal())))}},
		{"Basic and the same client_id in the body", req{form: form("grant_type", "client_credentials", "client_id", f.sk.ID()), basic: basicOf(f.sk)}},
		{"content type with a charset", req{form: withSecret(), ctype: ptr("Application/X-WWW-Form-URLencoded; charset=UTF-8")}},
		{"unknown parameters are ignored", req{form: withSecret("resource", "https://api.example", "audience", "x")}},
		{"a body just under 16 KiB", req{form: withSecret("padding", strings.Repeat("a", 15<<10))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := f.do(t, tc.rq)
			claims := f.requireTokenResponse(t, resp, allScope, false)
			assert.Equal(t, f.sk.ID(), claims.Subject, "sub names the client (RFC 9068 §2.2)")
			assert.Equal(t, keygate.KindSecret, claims.ClientKind)
			assert.Equal(t, f.sk.ID(), claims.ClientID)
			assert.Equal(t, testAccount, claims.Account)
			assert.Equal(t, keygate.ModeTest, claims.Mode)
			assert.Equal(t, "GO", claims.Package)
			assert.Equal(t, testPerms, claims.Permissions)
			assert.Equal(t, []string{"store_1"}, claims.Stores)
			assert.Equal(t, testIssuer, claims.Issuer)
			assert.Contains(t, claims.Audience, testAudience)
			assert.NotEmpty(t, claims.ID)
			assert.Equal(t, jwt.DefaultAccessTTL, claims.ExpiresAt.Sub(claims.IssuedAt))

			header, raw := payload(t, resp.str("access_token"))
			assert.Equal(t, jwt.TypeAccessToken, header["typ"])
			for _, name := range []string{"iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope",
				"kg_account", "kg_mode", "kg_package", "kg_permissions", "kg_stores"} {
				assert.Contains(t, raw, name)
			}
			assert.Equal(t, f.sk.ID(), raw["client_id"])
			assert.Equal(t, f.sk.ID(), raw["sub"])
			assert.Equal(t, testAccount, raw["kg_account"])

			status, p := f.whoamiWith(t, resp.str("access_token"))
			require.Equal(t, http.StatusOK, status)
			assert.Equal(t, keygate.MethodJWT, p.Method)
			assert.Equal(t, f.sk.ID(), p.KeyID)
			assert.Equal(t, f.sk.ID(), p.Subject)
			assert.Equal(t, keygate.KindSecret, p.Kind)
			assert.Equal(t, claims.ID, p.TokenID)
		})
	}
}

func TestClientCredentialsScope(t *testing.T) {
	f := newFixture(t, options{})
	for _, tc := range []struct {
		scope, want string
	}{
		{"products:read", "products:read"},
		{"orders:read products:read", "orders:read products:read"},
		{"products:read products:read", "products:read"},
		{allScope, allScope},
	} {
		t.Run("narrow "+tc.scope, func(t *testing.T) {
			claims := f.requireTokenResponse(t, f.clientCredentials(t, f.sk, tc.scope), tc.want, false)
			assert.Equal(t, strings.Fields(tc.want), claims.Permissions)
		})
	}
	for _, tc := range []struct {
		name, scope string
	}{
		{"superset", "products:read admin:all"},
		{"unknown only", "admin:all"},
		{"a prefix of a permission", "products"},
		{"double space", "products:read  orders:read"},
		{"leading space", " products:read"},
		{"trailing space", "products:read "},
		{"tab", "products:read\torders:read"},
		{"newline", "products:read\norders:read"},
		{"quote", `"products:read"`},
		{"backslash", `products\:read`},
		{"non-ASCII", "prödukte:read"},
		{"DEL", "products:read\x7f"},
		{"only a space", " "},
	} {
		t.Run("refuse "+tc.name, func(t *testing.T) {
			requireError(t, f.clientCredentials(t, f.sk, tc.scope), http.StatusBadRequest, "invalid_scope")
		})
	}
}

func TestTokenEndpointErrors(t *testing.T) {
	f := newFixture(t, options{})
	cc := func(extra ...string) url.Values {
		return form(append([]string{"grant_type", "client_credentials"}, extra...)...)
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	basicRealm := `Basic realm="keygate"`
	for _, tc := range []struct {
		name   string
		rq     req
		status int
		code   string
		// challenge, for a 401, is the exact WWW-Authenticate header
		// when the client used Basic; empty means any challenge.
		challenge string
	}{
		// Public clients.
		{"public client, client_credentials", req{form: cc("client_id", f.pk.ID())}, 400, "unauthorized_client", ""},
		{"public client sends a secret", req{form: cc("client_id", f.pk.ID(), "client_secret", "anything")}, 401, "invalid_client", ""},
		{"public client sends its publishable key as secret", req{form: cc("client_id", f.pk.ID(), "client_secret", f.pk.Reveal())}, 401, "invalid_client", ""},
		{"public client via Basic with a secret", req{form: cc(), basic: []string{f.pk.ID(), f.sk.Reveal()}}, 401, "invalid_client", basicRealm},
		{"public client, password grant via Basic with a secret", req{form: form("grant_type", "password", "username", "alice", "password", alicePassword),
			basic: []string{f.pk.ID(), "x"}}, 401, "invalid_client", basicRealm},

		// Confidential clients with bad credentials.
		{"wrong secret (replaced by a rotation)", req{form: cc(), basic: []string{f.staleID, f.staleSecret}}, 401, "invalid_client", basicRealm},
		{"wrong secret in the body", req{form: cc("client_id", f.staleID, "client_secret", f.staleSecret)}, 401, "invalid_client", ""},
		{"malformed secret", req{form: cc(), basic: []string{f.sk.ID(), "not-a-key"}}, 401, "invalid_client", basicRealm},
		{"secret with a typo", req{form: cc(), basic: []string{f.sk.ID(), typo(f.sk.Reveal())}}, 401, "invalid_client", basicRealm},
		{"another key's secret", req{form: cc(), basic: []string{f.sk.ID(), f.sk2.Reveal()}}, 401, "invalid_client", basicRealm},
		{"another account's secret", req{form: cc(), basic: []string{f.sk.ID(), f.otherSK.Reveal()}}, 401, "invalid_client", basicRealm},
		{"the client's publishable key as secret", req{form: cc(), basic: []string{f.sk.ID(), f.pk.Reveal()}}, 401, "invalid_client", basicRealm},
		{"a secret key's ID without a secret", req{form: cc("client_id", f.sk.ID())}, 401, "invalid_client", ""},
		{"empty secret via Basic", req{form: cc(), basic: []string{f.sk.ID(), ""}}, 401, "invalid_client", basicRealm},
		{"empty client_id via Basic", req{form: cc(), basic: []string{"", f.sk.Reveal()}}, 401, "invalid_client", basicRealm},
		{"unknown client_id via Basic", req{form: cc(), basic: []string{unknownClientID, f.sk.Reveal()}}, 401, "invalid_client", basicRealm},
		{"unknown client_id in the body", req{form: cc("client_id", unknownClientID, "client_secret", f.sk.Reveal())}, 401, "invalid_client", ""},
		{"the whole key as client_id", req{form: cc("client_id", f.sk.Reveal(), "client_secret", f.sk.Reveal())}, 401, "invalid_client", ""},
		{"a long client_id", req{form: cc("client_id", strings.Repeat("A", 8000))}, 401, "invalid_client", ""},
		{"no client authentication", req{form: cc()}, 401, "invalid_client", ""},
		{"revoked client key", req{form: cc(), basic: basicOf(f.revokedSK)}, 401, "invalid_client", basicRealm},
		{"disabled client key", req{form: cc(), basic: basicOf(f.disabledSK)}, 401, "invalid_client", basicRealm},
		{"pending live client key", req{form: cc(), basic: basicOf(f.pendingSK)}, 401, "invalid_client", basicRealm},
		{"revoked client key in the body", req{form: cc("client_id", f.revokedSK.ID(), "client_secret", f.revokedSK.Reveal())}, 401, "invalid_client", ""},
		{"revoked public client", req{form: form("grant_type", "password", "client_id", f.revokedPK.ID(), "username", "alice", "password", alicePassword)}, 401, "invalid_client", ""},
		{"disabled public client", req{form: form("grant_type", "password", "client_id", f.disabledPK.ID(), "username", "alice", "password", alicePassword)}, 401, "invalid_client", ""},
		{"pending live public client", req{form: form("grant_type", "password", "client_id", f.pendingPK.ID(), "username", "alice", "password", alicePassword)}, 401, "invalid_client", ""},
		{"bad percent-encoding inside Basic", req{form: cc(), authz: "Basic " + b64("%zz:"+f.sk.Reveal())}, 401, "invalid_client", basicRealm},

		// Two authentication methods.
		{"Basic and client_secret in the body", req{form: cc("client_secret", f.sk.Reveal()), basic: basicOf(f.sk)}, 400, "invalid_request", ""},
		{"Basic and an empty client_secret in the body", req{form: cc("client_secret", ""), basic: basicOf(f.sk)}, 400, "invalid_request", ""},
		{"Basic and another client_id in the body", req{form: cc("client_id", f.sk2.ID()), basic: basicOf(f.sk)}, 400, "invalid_request", ""},

		// Malformed requests.
		{"GET", req{method: http.MethodGet}, 400, "invalid_request", ""},
		{"GET with the parameters in the query", req{method: http.MethodGet, query: "?grant_type=client_credentials", basic: basicOf(f.sk)}, 400, "invalid_request", ""},
		{"PUT", req{method: http.MethodPut, form: cc(), basic: basicOf(f.sk)}, 400, "invalid_request", ""},
		{"JSON body", req{body: ptr(`{"grant_type":"client_credentials"}`), ctype: ptr("application/json"), basic: basicOf(f.sk)}, 400, "invalid_request", ""},
		{"no content type", req{form: cc(), ctype: ptr(""), basic: basicOf(f.sk)}, 400, "invalid_request", ""},
		{"multipart body", req{body: ptr("--x\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\nclient_credentials\r\n--x--\r\n"),
			ctype: ptr("multipart/form-data; boundary=x"), basic: basicOf(f.sk)}, 400, "invalid_request", ""},
		{"text/plain body", req{form: cc(), ctype: ptr("text/plain"), basic: basicOf(f.sk)}, 400, "invalid_request", ""},
		{"parameters in the query", req{query: "?grant_type=client_credentials", basic: basicOf(f.sk)}, 400, "invalid_request", ""},
		{"a parameter in the query beside the body", req{query: "?scope=products:read", form: cc(), basic: basicOf(f.sk)}, 400, "invalid_request", ""},
		{"repeated grant_type", req{body: ptr("grant_type=client_credentials&grant_type=client_credentials"), basic: basicOf(f.sk)}, 400, "invalid_request", ""},
		{"repeated scope", req{body: ptr("grant_type=client_credentials&scope=products:read&scope=orders:read"), basic: basicOf(f.sk)}, 400, "invalid_request", ""},
		{"repeated client_secret", req{body: ptr("grant_type=client_credentials&client_id=" + f.sk.ID() +
			"&client_secret=" + f.sk.Reveal() + "&client_secret=" + f.sk.Reveal())}, 400, "invalid_request", ""},
		{"repeated parameter with a secret as its name", req{body: ptr("grant_type=client_credentials&" + f.sk.Reveal() + "=1&" + f.sk.Reveal() + "=2"),
			basic: basicOf(f.sk)}, 400, "invalid_request", ""},
		{"missing grant_type", req{form: form("scope", "products:read"), basic: basicOf(f.sk)}, 400, "invalid_request", ""},
		{"empty grant_type", req{form: form("grant_type", ""), basic: basicOf(f.sk)}, 400, "invalid_request", ""},
		{"empty body", req{body: ptr(""), basic: basicOf(f.sk)}, 400, "invalid_request", ""},
		{"invalid percent-encoding in the body", req{body: ptr("grant_type=%zz"), basic: basicOf(f.sk)}, 400, "invalid_request", ""},
		{"body over 16 KiB", req{form: cc("padding", strings.Repeat("a", 17<<10)), basic: basicOf(f.sk)}, 400, "invalid_request", ""},
		{"body of 1 MiB", req{form: cc("padding", strings.Repeat("a", 1<<20)), basic: basicOf(f.sk)}, 400, "invalid_request", ""},

		// Grant types.
		{"authorization_code", req{form: form("grant_type", "authorization_code", "code", "x"), basic: basicOf(f.sk)}, 400, "unsupported_grant_type", ""},
		{"implicit", req{form: form("grant_type", "implicit"), basic: basicOf(f.sk)}, 400, "unsupported_grant_type", ""},
		{"JWT bearer", req{form: form("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), basic: basicOf(f.sk)}, 400, "unsupported_grant_type", ""},
		{"grant type in another case", req{form: form("grant_type", "Client_Credentials"), basic: basicOf(f.sk)}, 400, "unsupported_grant_type", ""},
		{"unknown grant type without a client", req{form: form("grant_type", "device_code")}, 400, "unsupported_grant_type", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := f.do(t, tc.rq)
			requireError(t, resp, tc.status, tc.code)
			if tc.challenge != "" {
				assert.Equal(t, tc.challenge, resp.header.Get("WWW-Authenticate"))
			}
			if resp.status != http.StatusUnauthorized {
				assert.Empty(t, resp.header.Get("WWW-Authenticate"))
			}
		})
	}
}

// TestTokenMalformedBasicHeader: a client that sends an Authorization
// header with the Basic scheme has chosen HTTP Basic. If the header cannot
// be decoded, RFC 6749 §5.2 asks for 401 invalid_client with a Basic
// challenge ("matching the authentication scheme used by the client"), and
// credentials in the body must not be used instead: that would be two
// authentication methods in one request (§2.3).
func TestTokenMalformedBasicHeader(t *testing.T) {
	f := newFixture(t, options{})
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		name, authz string
	}{
		{"not base64", "Basic !!!not-base64!!!"},
		{"no colon", "Basic " + b64(f.sk.ID())},
		{"no credentials", "Basic"},
		{"lower-case scheme, not base64", "basic ***"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := f.do(t, req{form: form("grant_type", "client_credentials"), authz: tc.authz})
			requireError(t, resp, http.StatusUnauthorized, "invalid_client")
			assert.Equal(t, `Basic realm="keygate"`, resp.header.Get("WWW-Authenticate"))
		})
		t.Run(tc.name+", with valid credentials in the body", func(t *testing.T) {
			resp := f.do(t, req{form: form("grant_type", "client_credentials", "client_id", f.sk.ID(), "client_secret", f.sk.Reveal()), authz: tc.authz})
			assert.NotEqual(t, http.StatusOK, resp.status, "a malformed Basic header was ignored and the body used instead")
			assert.Empty(t, resp.str("access_token"))
		})
	}
}

func TestTokenErrorDescriptionsHideCredentials(t *testing.T) {
	f := newFixture(t, options{})
	// Whatever is wrong, the response says nothing about which part: the
	// same body for an unknown client, a wrong secret and a revoked key.
	bodies := map[string]bool{}
	for _, basic := range [][]string{
		{unknownClientID, f.sk.Reveal()},
		{f.sk.ID(), f.sk2.Reveal()},
		{f.staleID, f.staleSecret},
		basicOf(f.revokedSK),
		basicOf(f.disabledSK),
		basicOf(f.pendingSK),
	} {
		resp := f.do(t, req{form: form("grant_type", "client_credentials"), basic: basic})
		requireError(t, resp, http.StatusUnauthorized, "invalid_client")
		bodies[resp.body] = true
	}
	assert.Len(t, bodies, 1, "invalid_client responses differ: %v", bodies)
}

func TestPasswordGrant(t *testing.T) {
	f := newFixture(t, options{})

	t.Run("public client", func(t *testing.T) {
		resp := f.passwordGrant(t, f.pk.ID(), "alice", alicePassword, "")
		claims := f.requireTokenResponse(t, resp, allScope, true)
		assert.Equal(t, aliceSubject, claims.Subject)
		assert.Equal(t, f.pk.ID(), claims.ClientID)
		assert.Equal(t, testAccount, claims.Account)
		assert.Equal(t, keygate.ModeTest, claims.Mode)

		status, p := f.whoamiWith(t, resp.str("access_token"))
		require.Equal(t, http.StatusOK, status)
		assert.Equal(t, keygate.MethodJWT, p.Method)
		assert.Equal(t, aliceSubject, p.Subject)
		assert.Equal(t, f.pk.ID(), p.KeyID)
		assert.Equal(t, testAccount, p.Account)
	})
	t.Run("public client with a scope", func(t *testing.T) {
		resp := f.passwordGrant(t, f.pk.ID(), "alice", alicePassword, "orders:read")
		f.requireTokenResponse(t, resp, "orders:read", true)
	})
	t.Run("public client via Basic with an empty secret", func(t *testing.T) {
		resp := f.do(t, req{form: form("grant_type", "password", "username", "alice", "password", alicePassword), basic: []string{f.pk.ID(), ""}})
		f.requireTokenResponse(t, resp, allScope, true)
	})
	t.Run("confidential client", func(t *testing.T) {
		resp := f.do(t, req{form: form("grant_type", "password", "username", "alice", "password", alicePassword), basic: basicOf(f.sk)})
		claims := f.requireTokenResponse(t, resp, allScope, true)
		assert.Equal(t, aliceSubject, claims.Subject)
		assert.Equal(t, f.sk.ID(), claims.ClientID)
	})

	for _, tc := range []struct {
		name             string
		client, user, pw string
		scope            string
		status           int
		code             string
	}{
		{"wrong password", f.pk.ID(), "alice", alicePassword + "!", "", 400, "invalid_grant"},
		{"another user's password", f.pk.ID(), "alice", malloryPassword, "", 400, "invalid_grant"},
		{"unknown user", f.pk.ID(), "bob", alicePassword, "", 400, "invalid_grant"},
		{"user name in another case", f.pk.ID(), "Alice", alicePassword, "", 400, "invalid_grant"},
		{"a user of another account", f.pk.ID(), "mallory", malloryPassword, "", 400, "invalid_grant"},
		{"another account's client", f.otherPK.ID(), "alice", alicePassword, "", 400, "invalid_grant"},
		{"a password over the length limit", f.pk.ID(), "alice", strings.Repeat("p", password.MaxLen+1), "", 400, "invalid_grant"},
		{"missing user name", f.pk.ID(), "", alicePassword, "", 400, "invalid_request"},
		{"missing password", f.pk.ID(), "alice", "", "", 400, "invalid_request"},
		{"superset scope", f.pk.ID(), "alice", alicePassword, "products:read admin:all", 400, "invalid_scope"},
		{"unknown client", unknownClientID, "alice", alicePassword, "", 401, "invalid_client"},
		{"the secret key's ID without its secret", f.sk.ID(), "alice", alicePassword, "", 401, "invalid_client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireError(t, f.passwordGrant(t, tc.client, tc.user, tc.pw, tc.scope), tc.status, tc.code)
		})
	}

	t.Run("wrong password and unknown user look the same", func(t *testing.T) {
		a := f.passwordGrant(t, f.pk.ID(), "alice", "wrong", "")
		b := f.passwordGrant(t, f.pk.ID(), "nobody", "wrong", "")
		assert.Equal(t, a.body, b.body)
		assert.Equal(t, a.status, b.status)
	})

	t.Run("disabled without Users", func(t *testing.T) {
		g := newFixture(t, options{noUsers: true})
		requireError(t, g.passwordGrant(t, g.pk.ID(), "alice", alicePassword, ""), 400, "unsupported_grant_type")
		// client_credentials still works.
		g.requireTokenResponse(t, g.clientCredentials(t, g.sk, ""), allScope, false)
	})
}

func TestRefreshRotation(t *testing.T) {
	f := newFixture(t, options{})
	access1, r1 := f.signIn(t)

	resp := f.refreshGrant(t, f.pk.ID(), r1, "")
	claims := f.requireTokenResponse(t, resp, allScope, true)
	r2 := resp.str("refresh_token")
	assert.NotEqual(t, r1, r2, "the refresh token is rotated")
	assert.NotEqual(t, access1, resp.str("access_token"))
	assert.Equal(t, aliceSubject, claims.Subject)
	assert.Equal(t, f.pk.ID(), claims.ClientID)
	assert.Equal(t, testAccount, claims.Account)

	resp = f.refreshGrant(t, f.pk.ID(), r2, "")
	f.requireTokenResponse(t, resp, allScope, true)
	r3 := resp.str("refresh_token")
	assert.NotEqual(t, r2, r3)
	assert.Empty(t, f.changesOf(keygate.ActionRefreshReuse))

	// The access tokens stay valid: rotating the refresh token does not
	// revoke them.
	status, _ := f.whoamiWith(t, access1)
	assert.Equal(t, http.StatusOK, status)
}

// TestRefreshReuseKillsFamily is the issue's "what will be checked": a
// refresh token works once; its second use fails and also kills the
// refresh token issued in exchange.
func TestRefreshReuseKillsFamily(t *testing.T) {
	f := newFixture(t, options{})
	_, r1 := f.signIn(t)

	resp := f.refreshGrant(t, f.pk.ID(), r1, "")
	f.requireTokenResponse(t, resp, allScope, true)
	r2 := resp.str("refresh_token")
	require.NotEqual(t, r1, r2)

	requireError(t, f.refreshGrant(t, f.pk.ID(), r1, ""), http.StatusBadRequest, "invalid_grant")
	requireError(t, f.refreshGrant(t, f.pk.ID(), r2, ""), http.StatusBadRequest, "invalid_grant")
	// And it stays dead.
	requireError(t, f.refreshGrant(t, f.pk.ID(), r1, ""), http.StatusBadRequest, "invalid_grant")

	events := f.changesOf(keygate.ActionRefreshReuse)
	require.NotEmpty(t, events, "OnChange is told of the reuse")
	ev := events[0]
	assert.NotEmpty(t, ev.TokenID, "the family")
	assert.Equal(t, f.pk.ID(), ev.KeyID)
	assert.Equal(t, f.pk.ID(), ev.Actor)
	assert.Equal(t, aliceSubject, ev.Subject)
	assert.Equal(t, testAccount, ev.Account)
	assert.Equal(t, keygate.ModeTest, ev.Mode)
	assert.False(t, ev.Time.IsZero())
	text := fmt.Sprintf("%#v %+v", events, events)
	for _, tok := range []string{r1, r2} {
		sum := sha256.Sum256([]byte(tok))
		for _, form := range []string{tok, tok[len(jwt.RefreshTokenPrefix):], hex.EncodeToString(sum[:]),
			base64.RawURLEncoding.EncodeToString(sum[:]), base64.StdEncoding.EncodeToString(sum[:])} {
			assert.NotContains(t, text, form, "the reuse event carries no token and no hash of one")
		}
	}

	// A new sign-in starts a new family, unaffected.
	_, r4 := f.signIn(t)
	f.requireTokenResponse(t, f.refreshGrant(t, f.pk.ID(), r4, ""), allScope, true)
}

func TestRefreshByAnotherClient(t *testing.T) {
	f := newFixture(t, options{})
	_, r := f.signIn(t)

	requireError(t, f.refreshGrant(t, f.otherPK.ID(), r, ""), http.StatusBadRequest, "invalid_grant")
	// The same account's confidential clients may not use it either.
	for _, k := range []apikey.Key{f.sk, f.sk2} {
		resp := f.do(t, req{form: form("grant_type", "refresh_token", "refresh_token", r), basic: basicOf(k)})
		requireError(t, resp, http.StatusBadRequest, "invalid_grant")
	}
	assert.Empty(t, f.changesOf(keygate.ActionRefreshReuse), "a foreign client's attempt is not reuse")

	// The owner's token still works.
	resp := f.refreshGrant(t, f.pk.ID(), r, "")
	f.requireTokenResponse(t, resp, allScope, true)
	requireError(t, f.refreshGrant(t, f.otherPK.ID(), resp.str("refresh_token"), ""), http.StatusBadRequest, "invalid_grant")
	f.requireTokenResponse(t, f.refreshGrant(t, f.pk.ID(), resp.str("refresh_token"), ""), allScope, true)
}

func TestRefreshConfidentialClient(t *testing.T) {
	f := newFixture(t, options{})
	resp := f.do(t, req{form: form("grant_type", "password", "username", "alice", "password", alicePassword), basic: basicOf(f.sk)})
	f.requireTokenResponse(t, resp, allScope, true)
	r := resp.str("refresh_token")

	// Without the secret, the client is not authenticated.
	requireError(t, f.refreshGrant(t, f.sk.ID(), r, ""), http.StatusUnauthorized, "invalid_client")
	resp = f.do(t, req{form: form("grant_type", "refresh_token", "refresh_token", r), basic: basicOf(f.sk)})
	claims := f.requireTokenResponse(t, resp, allScope, true)
	assert.Equal(t, f.sk.ID(), claims.ClientID)
	assert.Equal(t, aliceSubject, claims.Subject)
}

func TestRefreshScope(t *testing.T) {
	f := newFixture(t, options{})
	resp := f.passwordGrant(t, f.pk.ID(), "alice", alicePassword, "products:read orders:read")
	f.requireTokenResponse(t, resp, "products:read orders:read", true)
	r := resp.str("refresh_token")

	// Narrowed for this access token only (RFC 6749 §6).
	resp = f.refreshGrant(t, f.pk.ID(), r, "orders:read")
	f.requireTokenResponse(t, resp, "orders:read", true)
	r = resp.str("refresh_token")

	// Without a scope: the original grant, not the narrowed one.
	resp = f.refreshGrant(t, f.pk.ID(), r, "")
	f.requireTokenResponse(t, resp, "products:read orders:read", true)
	r = resp.str("refresh_token")

	// Never wider than the grant, even within the client's permissions.
	requireError(t, f.refreshGrant(t, f.pk.ID(), r, "products:write"), http.StatusBadRequest, "invalid_scope")
}

// TestRefreshInvalidScopeKeepsSession: a refresh request refused with
// invalid_scope must change nothing. RFC 6749 §5.2: an error response
// means the request was refused, and the client may retry with a valid
// scope; here the refresh token must still work.
func TestRefreshInvalidScopeKeepsSession(t *testing.T) {
	for _, scope := range []string{"products:read admin:all", "products:read  orders:read"} {
		t.Run(scope, func(t *testing.T) {
			f := newFixture(t, options{})
			_, r := f.signIn(t)
			requireError(t, f.refreshGrant(t, f.pk.ID(), r, scope), http.StatusBadRequest, "invalid_scope")
			resp := f.refreshGrant(t, f.pk.ID(), r, "products:read")
			f.requireTokenResponse(t, resp, "products:read", true)
			assert.Empty(t, f.changesOf(keygate.ActionRefreshReuse), "the refused request must not count as a use of the token")
		})
	}
}

// TestRefreshReuseWithInvalidScope: reuse is detected whatever else is
// wrong with the request, so a thief cannot probe a stolen, rotated token
// with an invalid scope without revoking the family.
func TestRefreshReuseWithInvalidScope(t *testing.T) {
	f := newFixture(t, options{})
	_, r1 := f.signIn(t)
	resp := f.refreshGrant(t, f.pk.ID(), r1, "")
	f.requireTokenResponse(t, resp, allScope, true)
	r2 := resp.str("refresh_token")

	resp = f.refreshGrant(t, f.pk.ID(), r1, "admin:all")
	require.Equal(t, http.StatusBadRequest, resp.status, resp.body)
	requireError(t, f.refreshGrant(t, f.pk.ID(), r2, ""), http.StatusBadRequest, "invalid_grant")
	assert.Len(t, f.changesOf(keygate.ActionRefreshReuse), 1)
}

func TestRefreshErrors(t *testing.T) {
	f := newFixture(t, options{})
	access, _ := f.signIn(t)
	for _, tc := range []struct {
		name, token string
		code        string
	}{
		{"missing refresh_token", "", "invalid_request"},
		{"garbage", "garbage", "invalid_grant"},
		{"well-formed but unknown", jwt.RefreshTokenPrefix + strings.Repeat("A", jwt.OpaqueSecretLen), "invalid_grant"},
		{"an access token", access, "invalid_grant"},
		{"an API key", f.sk.Reveal(), "invalid_grant"},
		{"a one-time token prefix", jwt.OneTimeTokenPrefix + strings.Repeat("A", jwt.OpaqueSecretLen), "invalid_grant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireError(t, f.refreshGrant(t, f.pk.ID(), tc.token, ""), http.StatusBadRequest, tc.code)
		})
	}

	t.Run("idle timeout", func(t *testing.T) {
		g := newFixture(t, options{})
		_, r := g.signIn(t)
		g.advance(jwt.DefaultRefreshIdleTimeout + time.Minute)
		requireError(t, g.refreshGrant(t, g.pk.ID(), r, ""), http.StatusBadRequest, "invalid_grant")
	})

	t.Run("sliding session", func(t *testing.T) {
		g := newFixture(t, options{})
		_, r := g.signIn(t)
		for range 3 {
			g.advance(jwt.DefaultRefreshIdleTimeout - time.Hour)
			resp := g.refreshGrant(t, g.pk.ID(), r, "")
			g.requireTokenResponse(t, resp, allScope, true)
			r = resp.str("refresh_token")
		}
	})

	t.Run("disabled without Refresh", func(t *testing.T) {
		g := newFixture(t, options{noRefresh: true})
		resp := g.passwordGrant(t, g.pk.ID(), "alice", alicePassword, "")
		g.requireTokenResponse(t, resp, allScope, false)
		requireError(t, g.refreshGrant(t, g.pk.ID(), jwt.RefreshTokenPrefix+strings.Repeat("A", jwt.OpaqueSecretLen), ""),
			http.StatusBadRequest, "unsupported_grant_type")
	})

	t.Run("client revoked after sign-in", func(t *testing.T) {
		g := newFixture(t, options{})
		_, r := g.signIn(t)
		_, err := g.keys.Revoke(t.Context(), g.pk.ID())
		require.NoError(t, err)
		requireError(t, g.refreshGrant(t, g.pk.ID(), r, ""), http.StatusUnauthorized, "invalid_client")
	})
}

func (f *fixture) revoke(t testing.TB, token string, rq req) response {
	t.Helper()
	if rq.form == nil {
		rq.form = url.Values{}
	}
	rq.form.Set("token", token)
	rq.path = "/oauth/revoke"
	return f.do(t, rq)
}

func requireRevoked(t testing.TB, resp response) {
	t.Helper()
	require.Equal(t, http.StatusOK, resp.status, resp.body)
	assert.Equal(t, "no-store", resp.header.Get("Cache-Control"))
}

func TestRevokeAccessToken(t *testing.T) {
	f := newFixture(t, options{})
	tok := f.accessToken(t, f.sk)
	status, _ := f.whoamiWith(t, tok)
	require.Equal(t, http.StatusOK, status)

	// Another client may not revoke it, and the token keeps working.
	for _, rq := range []req{
		{basic: basicOf(f.sk2)},
		{basic: basicOf(f.otherSK)},
		{form: form("client_id", f.pk.ID())},
	} {
		requireError(t, f.revoke(t, tok, rq), http.StatusBadRequest, "unauthorized_client")
	}
	_, err := f.verifier.Verify(t.Context(), tok)
	require.NoError(t, err)
	status, _ = f.whoamiWith(t, tok)
	require.Equal(t, http.StatusOK, status)

	// Its own client may.
	claims, err := f.verifier.Verify(t.Context(), tok)
	require.NoError(t, err)
	assert.Empty(t, f.changesOf(keygate.ActionTokenRevoked), "refused revocations report nothing")
	requireRevoked(t, f.revoke(t, tok, req{basic: basicOf(f.sk)}))
	_, err = f.verifier.Verify(t.Context(), tok)
	require.ErrorIs(t, err, jwt.ErrRevoked)
	revoked := f.changesOf(keygate.ActionTokenRevoked)
	require.Len(t, revoked, 1)
	assert.WithinDuration(t, f.now(), revoked[0].Time, time.Minute)
	revoked[0].Time = time.Time{}
	assert.Equal(t, keygate.Change{Action: keygate.ActionTokenRevoked, Actor: f.sk.ID(), KeyID: f.sk.ID(),
		TokenID: claims.ID, Subject: claims.Subject, Account: claims.Account, Mode: claims.Mode}, revoked[0])
	status, _ = f.whoamiWith(t, tok)
	assert.Equal(t, http.StatusUnauthorized, status)

	// Again: nothing to do, still 200; with a type hint too.
	requireRevoked(t, f.revoke(t, tok, req{basic: basicOf(f.sk)}))
	requireRevoked(t, f.revoke(t, tok, req{form: form("token_type_hint", "access_token"), basic: basicOf(f.sk)}))

	// Other tokens of the client are untouched.
	other := f.accessToken(t, f.sk)
	status, _ = f.whoamiWith(t, other)
	assert.Equal(t, http.StatusOK, status)
}

func TestRevokePublicClientAccessToken(t *testing.T) {
	f := newFixture(t, options{})
	access, r := f.signIn(t)
	requireError(t, f.revoke(t, access, req{basic: basicOf(f.sk)}), http.StatusBadRequest, "unauthorized_client")
	requireRevoked(t, f.revoke(t, access, req{form: form("client_id", f.pk.ID())}))
	_, err := f.verifier.Verify(t.Context(), access)
	require.ErrorIs(t, err, jwt.ErrRevoked)
	status, _ := f.whoamiWith(t, access)
	assert.Equal(t, http.StatusUnauthorized, status)
	// Revoking the access token leaves the refresh token alone.
	f.requireTokenResponse(t, f.refreshGrant(t, f.pk.ID(), r, ""), allScope, true)
}

func TestRevokeRefreshToken(t *testing.T) {
	f := newFixture(t, options{})

	t.Run("active token", func(t *testing.T) {
		_, r := f.signIn(t)
		requireRevoked(t, f.revoke(t, r, req{form: form("client_id", f.pk.ID(), "token_type_hint", "refresh_token")}))
		requireError(t, f.refreshGrant(t, f.pk.ID(), r, ""), http.StatusBadRequest, "invalid_grant")
		revoked := f.changesOf(keygate.ActionRefreshRevoked)
		require.Len(t, revoked, 1)
		assert.Equal(t, f.pk.ID(), revoked[0].Actor)
		assert.NotEmpty(t, revoked[0].TokenID, "the family")
	})
	t.Run("a rotated token kills the family", func(t *testing.T) {
		_, r1 := f.signIn(t)
		resp := f.refreshGrant(t, f.pk.ID(), r1, "")
		f.requireTokenResponse(t, resp, allScope, true)
		r2 := resp.str("refresh_token")
		requireRevoked(t, f.revoke(t, r1, req{form: form("client_id", f.pk.ID())}))
		requireError(t, f.refreshGrant(t, f.pk.ID(), r2, ""), http.StatusBadRequest, "invalid_grant")
	})
	t.Run("the newest token kills the family", func(t *testing.T) {
		_, r1 := f.signIn(t)
		resp := f.refreshGrant(t, f.pk.ID(), r1, "")
		r2 := resp.str("refresh_token")
		requireRevoked(t, f.revoke(t, r2, req{form: form("client_id", f.pk.ID())}))
		requireError(t, f.refreshGrant(t, f.pk.ID(), r2, ""), http.StatusBadRequest, "invalid_grant")
	})
	t.Run("another client's token", func(t *testing.T) {
		_, r := f.signIn(t)
		requireError(t, f.revoke(t, r, req{form: form("client_id", f.otherPK.ID())}), http.StatusBadRequest, "unauthorized_client")
		requireError(t, f.revoke(t, r, req{basic: basicOf(f.sk)}), http.StatusBadRequest, "unauthorized_client")
		f.requireTokenResponse(t, f.refreshGrant(t, f.pk.ID(), r, ""), allScope, true)
	})
}

func TestRevokeEdgeCases(t *testing.T) {
	f := newFixture(t, options{})
	for _, tc := range []struct {
		name, token string
	}{
		{"garbage", "garbage"},
		{"garbage with the refresh prefix", jwt.RefreshTokenPrefix + "garbage"},
		{"unknown refresh token", jwt.RefreshTokenPrefix + strings.Repeat("A", jwt.OpaqueSecretLen)},
		{"a JWT-looking string", "eyJhbGciOiJIUzI1NiJ9.e30.sig"},
		{"an API key", f.sk2.Reveal()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireRevoked(t, f.revoke(t, tc.token, req{basic: basicOf(f.sk)}))
		})
	}
	t.Run("expired token", func(t *testing.T) {
		g := newFixture(t, options{})
		tok := g.accessToken(t, g.sk)
		g.advance(jwt.DefaultAccessTTL + time.Hour)
		requireRevoked(t, g.revoke(t, tok, req{basic: basicOf(g.sk)}))
	})
	t.Run("missing token", func(t *testing.T) {
		requireError(t, f.do(t, req{path: "/oauth/revoke", basic: basicOf(f.sk)}), http.StatusBadRequest, "invalid_request")
	})
	t.Run("no client", func(t *testing.T) {
		tok := f.accessToken(t, f.sk)
		requireError(t, f.revoke(t, tok, req{}), http.StatusUnauthorized, "invalid_client")
		requireError(t, f.revoke(t, tok, req{basic: []string{f.sk.ID(), f.sk2.Reveal()}}), http.StatusUnauthorized, "invalid_client")
		_, err := f.verifier.Verify(t.Context(), tok)
		assert.NoError(t, err)
	})
	t.Run("GET", func(t *testing.T) {
		requireError(t, f.do(t, req{method: http.MethodGet, path: "/oauth/revoke", basic: basicOf(f.sk)}), http.StatusBadRequest, "invalid_request")
	})
	t.Run("token in the query", func(t *testing.T) {
		tok := f.accessToken(t, f.sk)
		resp := f.do(t, req{path: "/oauth/revoke", query: "?token=" + tok, basic: basicOf(f.sk)})
		requireError(t, resp, http.StatusBadRequest, "invalid_request")
		_, err := f.verifier.Verify(t.Context(), tok)
		assert.NoError(t, err)
	})
}

func (f *fixture) introspect(t testing.TB, token string, rq req) response {
	t.Helper()
	if rq.form == nil {
		rq.form = url.Values{}
	}
	rq.form.Set("token", token)
	rq.path = "/oauth/introspect"
	return f.do(t, rq)
}

func requireInactive(t testing.TB, resp response) {
	t.Helper()
	require.Equal(t, http.StatusOK, resp.status, resp.body)
	assert.JSONEq(t, `{"active":false}`, resp.body)
	assert.Equal(t, "no-store", resp.header.Get("Cache-Control"))
}

func TestIntrospection(t *testing.T) {
	f := newFixture(t, options{})
	resp := f.passwordGrant(t, f.pk.ID(), "alice", alicePassword, "products:read")
	require.Equal(t, http.StatusOK, resp.status)
	tok := resp.str("access_token")
	claims, err := f.verifier.Verify(t.Context(), tok)
	require.NoError(t, err)

	for _, rq := range []req{
		{basic: basicOf(f.sk)},
		{form: form("client_id", f.sk.ID(), "client_secret", f.sk.Reveal())},
		{basic: basicOf(f.sk2)},
	} {
		resp := f.introspect(t, tok, rq)
		require.Equal(t, http.StatusOK, resp.status, resp.body)
		assert.Equal(t, "no-store", resp.header.Get("Cache-Control"))
		assert.Equal(t, "application/json", resp.header.Get("Content-Type"))
		j := resp.json
		assert.Equal(t, true, j["active"])
		assert.Equal(t, "products:read", j["scope"])
		assert.Equal(t, f.pk.ID(), j["client_id"])
		assert.Equal(t, aliceSubject, j["sub"])
		assert.Equal(t, "Bearer", j["token_type"])
		assert.Equal(t, float64(claims.ExpiresAt.Unix()), j["exp"])
		assert.Equal(t, float64(claims.IssuedAt.Unix()), j["iat"])
		assert.Equal(t, testIssuer, j["iss"])
		assert.Equal(t, claims.ID, j["jti"])
		assert.Equal(t, testAccount, j["kg_account"])
		assert.Equal(t, "test", j["kg_mode"])
		assert.Equal(t, []any{"products:read"}, j["kg_permissions"])
		assert.Equal(t, []any{testAudience}, j["aud"])
	}

	t.Run("inactive", func(t *testing.T) {
		_, r := f.signIn(t)
		for name, token := range map[string]string{
			"garbage":               "garbage",
			"unknown refresh token": "kgrt_" + r[len("kgrt_")+1:] + "A",
			"API key":               f.sk2.Reveal(),
			"JWT-looking":           "eyJhbGciOiJIUzI1NiJ9.e30.sig",
			"tampered":              tampered(tok),
			"signed by a foe":       foreignToken(t),
		} {
			t.Run(name, func(t *testing.T) { requireInactive(t, f.introspect(t, token, req{basic: basicOf(f.sk)})) })
		}
	})

	t.Run("revoked", func(t *testing.T) {
		tok := f.accessToken(t, f.sk2)
		require.Equal(t, true, f.introspect(t, tok, req{basic: basicOf(f.sk)}).json["active"])
		requireRevoked(t, f.revoke(t, tok, req{basic: basicOf(f.sk2)}))
		requireInactive(t, f.introspect(t, tok, req{basic: basicOf(f.sk)}))
	})

	t.Run("expired", func(t *testing.T) {
		g := newFixture(t, options{})
		tok := g.accessToken(t, g.sk)
		require.Equal(t, true, g.introspect(t, tok, req{basic: basicOf(g.sk)}).json["active"])
		g.advance(jwt.DefaultAccessTTL + jwt.DefaultLeeway + time.Second)
		requireInactive(t, g.introspect(t, tok, req{basic: basicOf(g.sk)}))
	})

	t.Run("public client", func(t *testing.T) {
		requireError(t, f.introspect(t, tok, req{form: form("client_id", f.pk.ID())}), http.StatusUnauthorized, "invalid_client")
	})
	t.Run("no client", func(t *testing.T) {
		requireError(t, f.introspect(t, tok, req{}), http.StatusUnauthorized, "invalid_client")
		resp := f.introspect(t, tok, req{basic: []string{f.sk.ID(), f.sk2.Reveal()}})
		requireError(t, resp, http.StatusUnauthorized, "invalid_client")
		assert.Equal(t, `Basic realm="keygate"`, resp.header.Get("WWW-Authenticate"))
		requireError(t, f.introspect(t, tok, req{basic: basicOf(f.revokedSK)}), http.StatusUnauthorized, "invalid_client")
	})
	t.Run("missing token", func(t *testing.T) {
		requireError(t, f.do(t, req{path: "/oauth/introspect", basic: basicOf(f.sk)}), http.StatusBadRequest, "invalid_request")
	})
	t.Run("GET", func(t *testing.T) {
		requireError(t, f.do(t, req{method: http.MethodGet, path: "/oauth/introspect", basic: basicOf(f.sk)}), http.StatusBadRequest, "invalid_request")
	})
}

// TestIntrospectionPublicClientBasic: a public client that authenticates
// with HTTP Basic (its key ID and an empty password) and is refused gets a
// Basic challenge, like every other 401 of a Basic request.
func TestIntrospectionPublicClientBasic(t *testing.T) {
	f := newFixture(t, options{})
	tok := f.accessToken(t, f.sk)
	resp := f.introspect(t, tok, req{basic: []string{f.pk.ID(), ""}})
	requireError(t, resp, http.StatusUnauthorized, "invalid_client")
	assert.Equal(t, `Basic realm="keygate"`, resp.header.Get("WWW-Authenticate"))
}

// tampered changes the last two characters of a token's signature (to
// other canonical base64url).
func tampered(tok string) string {
	if strings.HasSuffix(tok, "AA") {
		return tok[:len(tok)-2] + "BA"
	}
	return tok[:len(tok)-2] + "AA"
}

// foreignToken is an access token with the right issuer and audience,
// signed by a key the server does not know under the server's kid.
func foreignToken(t testing.TB) string {
	t.Helper()
	k, err := jwt.GenerateKey("k1", jwt.HS256)
	require.NoError(t, err)
	ks, err := jwt.NewKeySet(k)
	require.NoError(t, err)
	iss, err := jwt.NewIssuer(jwt.IssuerConfig{Keys: ks, Issuer: testIssuer, Audience: testAudience})
	require.NoError(t, err)
	tok, _, err := iss.Issue(t.Context(), jwt.Claims{Subject: testAccount, ClientID: unknownClientID, Grant: keygate.Grant{Account: testAccount, Mode: keygate.ModeTest}})
	require.NoError(t, err)
	return tok
}

func TestNewServer(t *testing.T) {
	f := newFixture(t, options{})
	for name, cfg := range map[string]oauth.Config{
		"no clients":  {Issuer: f.issuer, Verifier: f.verifier},
		"no issuer":   {Clients: f.keys, Verifier: f.verifier},
		"no verifier": {Clients: f.keys, Issuer: f.issuer},
		"bad realm":   {Clients: f.keys, Issuer: f.issuer, Verifier: f.verifier, Realm: `a"b`},
		"CRLF realm":  {Clients: f.keys, Issuer: f.issuer, Verifier: f.verifier, Realm: "a\r\nSet-Cookie: x"},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := oauth.NewServer(cfg)
			assert.Error(t, err)
			assert.Nil(t, s)
		})
	}

	t.Run("custom realm", func(t *testing.T) {
		s, err := oauth.NewServer(oauth.Config{Clients: f.keys, Issuer: f.issuer, Verifier: f.verifier, Realm: "shop"})
		require.NoError(t, err)
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader("grant_type=client_credentials"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(unknownClientID, "x")
		s.TokenHandler().ServeHTTP(rec, r)
		assert.Equal(t, http.StatusUnauthorized, rec.Code)
		assert.Equal(t, `Basic realm="shop"`, rec.Header().Get("WWW-Authenticate"))
	})
}

// failingClients is a client store that cannot be reached.
type failingClients struct{}

func (failingClients) Get(context.Context, string) (apikey.Record, error) {
	return apikey.Record{}, fmt.Errorf("dial tcp 127.0.0.1:5432: connection refused")
}

func (failingClients) Verify(context.Context, string) (apikey.Record, error) {
	return apikey.Record{}, fmt.Errorf("dial tcp 127.0.0.1:5432: connection refused")
}

func TestStoreFailureIsUnavailable(t *testing.T) {
	f := newFixture(t, options{})
	s, err := oauth.NewServer(oauth.Config{Clients: failingClients{}, Issuer: f.issuer, Verifier: f.verifier})
	require.NoError(t, err)
	for name, h := range map[string]http.Handler{
		"token": s.TokenHandler(), "revoke": s.RevocationHandler(), "introspect": s.IntrospectionHandler(),
	} {
		t.Run(name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("grant_type=client_credentials&token=x"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.SetBasicAuth(f.sk.ID(), f.sk.Reveal())
			h.ServeHTTP(rec, r)
			assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
			assert.Contains(t, rec.Body.String(), `"temporarily_unavailable"`)
			assert.NotContains(t, rec.Body.String(), "5432", "a store error's text never reaches the client")
			assert.NotContains(t, rec.Body.String(), f.sk.Reveal())
		})
	}
}

func TestConcurrentRefreshOneWinner(t *testing.T) {
	f := newFixture(t, options{})
	_, r := f.signIn(t)
	const n = 8
	var wg sync.WaitGroup
	statuses := make([]int, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			var resp response
			resp, errs[i] = f.send(t.Context(), req{form: form("grant_type", "refresh_token", "client_id", f.pk.ID(), "refresh_token", r)})
			statuses[i] = resp.status
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	ok := 0
	for _, s := range statuses {
		if s == http.StatusOK {
			ok++
		} else {
			assert.Equal(t, http.StatusBadRequest, s)
		}
	}
	assert.Equal(t, 1, ok, "exactly one concurrent refresh wins")
}

// TestAuditCatchesLeaks checks the fixture's response audit itself, so
// that its silence elsewhere means something.
func TestAuditCatchesLeaks(t *testing.T) {
	f := newFixture(t, options{})
	_, r := f.signIn(t)
	h := http.Header{"Content-Type": {"application/json"}}
	f.check("probe", "/probe", 200, h, `{"x":"`+f.sk.Reveal()+`"}`)
	f.check("probe", "/probe", 200, http.Header{"X-Leak": {alicePassword}}, `{}`)
	f.check("probe", "/probe", 200, h, `{"refresh_token":"`+r+`"}`)
	f.check("probe", "/probe", 200, h, `{"refresh_token":"kgrt_new","echo":"kgrt_new"}`)
	f.check("probe", "/probe", 500, h, `{}`)
	f.mu.Lock()
	got := f.violations
	f.violations = nil
	f.mu.Unlock()
	require.Len(t, got, 5, "%q", got)
	assert.Contains(t, got[0], "key sk")
	assert.Contains(t, got[1], "alice's password")
	assert.Contains(t, got[2], "returns refresh token #0 again")
	assert.Contains(t, got[3], "appears 2 times")
	assert.Contains(t, got[4], "status 500")
}

// typo changes the last character of s to another one.
func typo(s string) string {
	c := "x"
	if strings.HasSuffix(s, c) {
		c = "y"
	}
	return s[:len(s)-1] + c
}
