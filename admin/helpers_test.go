package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/access"
	"github.com/keygate/keygate/account"
	"github.com/keygate/keygate/admin"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/idempotency"
	"github.com/keygate/keygate/iprule"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/middleware"
	"github.com/keygate/keygate/ratelimit"
)

const prefix = "/admin/v1"

// clock is an injectable clock shared by every manager of an env.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// envOptions vary the handler's configuration.
type envOptions struct {
	separateReview bool
	noOptional     bool // no HMAC, denylist, refresh tokens, audit history or IP rules
	idempotency    idempotency.Store
	packages       *access.Packages // the packages, for the middleware and the handler
	lookupAccounts bool             // the Authenticator looks up accounts (middleware.Config.Accounts)
}

// env is an admin API behind a real Authenticator, with real managers on
// in-memory stores, an audit writer, and /v1/whoami behind the same
// Authenticator.
type env struct {
	t        testing.TB
	clock    *clock
	accounts *account.Manager
	keys     *apikey.Manager
	hmac     *httpsig.Manager
	deny     *jwt.MemoryDenylist
	refresh  *jwt.RefreshTokens
	issuer   *jwt.Issuer
	writer   *audit.Writer
	sink     *audit.MemorySink
	handler  *admin.Handler
	ipRules  *iprule.MemoryStore // the IP rules, applied by the Authenticator
	server   *httptest.Server
	outer    http.Handler // what the server serves

	// Admin keys: every permission ("*:*"); write only; read only;
	// review only. Their IDs name them in audit events.
	adminKey, writeKey, readKey, reviewKey string
	adminID, writeID, readID, reviewID     string
	mu                                     sync.Mutex
	secrets                                []string // every plaintext key and secret seen
	calls                                  []call   // every admin call: method, route pattern, status
	bodies                                 []string // every admin response body but create and rotate
	closed                                 bool
}

type call struct {
	method, pattern string
	status          int
	body            []byte
}

var testRoles = access.Roles{"cashier": {"orders:read", "orders:write"}, "viewer": {"products:read"},
	"manager": {"orders:*", "analytics:export"}}

func newEnv(t testing.TB, opts envOptions) *env {
	t.Helper()
	e := &env{t: t, clock: &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}}
	e.sink = audit.NewMemorySink(1 << 16)
	e.writer = audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{e.sink}})
	var err error
	e.accounts, err = account.NewManager(account.Config{Now: e.clock.Now, OnChange: e.writer.RecordChange, Packages: opts.packages.Names()})
	require.NoError(t, err)
	e.keys, err = apikey.NewManager(apikey.Config{Now: e.clock.Now, OnChange: e.writer.RecordChange})
	require.NoError(t, err)
	e.hmac, err = httpsig.NewManager(httpsig.Config{MasterKey: bytes.Repeat([]byte{7}, 32), Now: e.clock.Now, OnChange: e.writer.RecordChange})
	require.NoError(t, err)
	e.deny = jwt.NewMemoryDenylist()
	e.refresh, err = jwt.NewRefreshTokens(jwt.RefreshConfig{Now: e.clock.Now, OnChange: e.writer.RecordChange})
	require.NoError(t, err)
	signing, err := jwt.GenerateKey("test-key", jwt.ES256)
	require.NoError(t, err)
	ks, err := jwt.NewKeySet(signing)
	require.NoError(t, err)
	e.issuer, err = jwt.NewIssuer(jwt.IssuerConfig{Keys: ks, Issuer: "https://issuer.test", Audience: "keygate", Now: e.clock.Now})
	require.NoError(t, err)
	verifier, err := jwt.NewVerifier(jwt.VerifierConfig{Keys: ks, Issuer: "https://issuer.test", Audience: "keygate", Now: e.clock.Now, Denylist: e.deny})
	require.NoError(t, err)

	signatures, err := httpsig.NewVerifier(httpsig.VerifierConfig{Authorities: httpsig.AnyAuthority, Credentials: e.hmac, Now: e.clock.Now})
	require.NoError(t, err)
	e.ipRules = iprule.NewMemoryStore()
	ipChecker := iprule.NewChecker(e.ipRules, iprule.CheckerConfig{TTL: time.Hour, Now: e.clock.Now}) // changes are seen through OnChange
	var lookup account.Lookup
	if opts.lookupAccounts {
		lookup = e.accounts
	}
	auth, err := middleware.New(middleware.Config{
		APIKeys:    e.keys,
		Tokens:     verifier,
		Signatures: signatures,
		Access:     middleware.AccessConfig{AuthFailures: ratelimitOff, Roles: testRoles, Packages: opts.packages, IPRules: ipChecker},
		Audit:      middleware.AuditConfig{Writer: e.writer, TrustRequestID: true},
		Accounts:   lookup,
	})
	require.NoError(t, err)

	cfg := admin.Config{
		Prefix: prefix, Auth: auth, Accounts: e.accounts, Keys: e.keys, HMAC: e.hmac,
		Denylist: e.deny, Refresh: e.refresh, AccessTokenTTL: 15 * time.Minute, Audit: e.sink,
		Idempotency: opts.idempotency, Roles: testRoles, SeparateReview: opts.separateReview,
		OnChange: keygate.MultiChangeFunc(e.writer.RecordChange, ipChecker.OnChange), Now: e.clock.Now,
		IPRules: e.ipRules,
	}
	if opts.noOptional {
		cfg.HMAC, cfg.Denylist, cfg.Refresh, cfg.Audit, cfg.IPRules = nil, nil, nil, nil, nil
	}
	e.handler, err = admin.New(cfg)
	require.NoError(t, err)

	// The admin keys, made directly with the manager by "keygate init".
	ctx := keygate.WithActor(context.Background(), "keygate init")
	// Its account is on the top package, as keygate init's is: an
	// operator key holds what its package includes, plus admin:*.
	var top string
	if names := opts.packages.Names(); len(names) > 0 {
		top = names[len(names)-1]
	}
	_, err = e.accounts.Create(ctx, account.CreateParams{ID: "acct_admin", Name: "Operators", Package: top})
	require.NoError(t, err)
	mint := func(perms ...string) (string, string) {
		k, rec, err := e.keys.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{Account: "acct_admin", Mode: keygate.ModeTest, Package: top, Permissions: perms}, Kind: keygate.KindSecret})
		require.NoError(t, err)
		e.secrets = append(e.secrets, k.Reveal())
		return k.Reveal(), rec.ID
	}
	// The admin key holds everything, as "keygate init"'s does: a caller
	// gives only what it holds.
	e.adminKey, e.adminID = mint("*:*")
	e.writeKey, e.writeID = mint(admin.PermissionWrite)
	e.readKey, e.readID = mint(admin.PermissionRead)
	e.reviewKey, e.reviewID = mint(admin.PermissionReview)

	mux := http.NewServeMux()
	mux.Handle(prefix+"/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		e.handler.ServeHTTP(rec, r)
		e.mu.Lock()
		e.calls = append(e.calls, call{r.Method, r.Pattern, rec.status, rec.body.Bytes()})
		e.mu.Unlock()
	}))
	mux.Handle("GET /v1/whoami", auth.Require(middleware.Rule{Publishable: true})(http.HandlerFunc(whoami)))
	e.outer = auth.Audit(mux)
	e.server = httptest.NewServer(e.outer)
	t.Cleanup(e.close)
	return e
}

// ratelimitOff disables the bound on failed authentications: the tests
// send many bad credentials from one address.
var ratelimitOff = ratelimit.Policy{Limit: -1}

func whoami(w http.ResponseWriter, r *http.Request) {
	p, _ := keygate.FromContext(r.Context())
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(p)
}

// close stops the server and flushes the audit writer; it is safe to call
// twice.
func (e *env) close() {
	if e.closed {
		return
	}
	e.closed = true
	e.server.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(e.t, e.writer.Close(ctx))
}

type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

// response is an HTTP response, read.
type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a generic map.
func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "body: %s", r.body)
	return m
}

// decode decodes the body into v.
func (r response) decode(t testing.TB, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.body, v), "body: %s", r.body)
}

// req is one request to the test server.
type req struct {
	method, path string
	key          string // the bearer credential; "" for none
	body         string
	contentType  string // "" means application/json when there is a body
	header       map[string]string
}

func (e *env) send(q req) response {
	e.t.Helper()
	var body io.Reader
	if q.body != "" {
		body = strings.NewReader(q.body)
	}
	path := q.path
	if strings.HasPrefix(path, "/") && !strings.HasPrefix(path, "/v1/") {
		path = prefix + path
	}
	r, err := http.NewRequest(q.method, e.server.URL+path, body)
	require.NoError(e.t, err)
	if q.key != "" {
		r.Header.Set("Authorization", "Bearer "+q.key)
	}
	switch {
	case q.contentType != "":
		r.Header.Set("Content-Type", q.contentType)
	case q.body != "":
		r.Header.Set("Content-Type", "application/json")
	}
	for k, v := range q.header {
		r.Header.Set(k, v)
	}
	res, err := e.server.Client().Do(r)
	require.NoError(e.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(e.t, err)
	out := response{status: res.StatusCode, header: res.Header, body: b}
	e.collect(q, out)
	return out
}

// collect remembers the plaintext secrets a response shows, and the
// bodies that must show none.
func (e *env) collect(q req, r response) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var m map[string]any
	if json.Unmarshal(r.body, &m) == nil {
		for _, k := range []string{"publishable", "secret"} {
			if sub, ok := m[k].(map[string]any); ok {
				if s, ok := sub["key"].(string); ok {
					e.secrets = append(e.secrets, s)
				}
			}
		}
		if s, ok := m["key"].(string); ok {
			e.secrets = append(e.secrets, s)
		}
		if s, ok := m["secret"].(string); ok {
			e.secrets = append(e.secrets, s)
		}
	}
	creates := q.method == http.MethodPost && (strings.HasSuffix(q.path, "/keys") || strings.HasSuffix(q.path, "/hmac-keys") ||
		strings.HasSuffix(q.path, "/rotate"))
	if strings.HasPrefix(q.path, "/") && !strings.HasPrefix(q.path, "/v1/") && !(creates && r.status < 300 && r.header.Get("Idempotent-Replayed") == "") {
		e.bodies = append(e.bodies, string(r.body))
	}
}

// Shorthands.

func (e *env) get(key, path string) response { return e.send(req{method: "GET", path: path, key: key}) }

func (e *env) post(key, path, body string) response {
	return e.send(req{method: "POST", path: path, key: key, body: body})
}

func (e *env) patch(key, path, body string) response {
	return e.send(req{method: "PATCH", path: path, key: key, body: body})
}

// whoami calls the protected route with key and returns the status.
func (e *env) whoami(key string) int {
	return e.send(req{method: "GET", path: "/v1/whoami", key: key}).status
}

// mustStatus fails unless r has the status.
func mustStatus(t testing.TB, r response, status int) {
	t.Helper()
	require.Equal(t, status, r.status, "body: %s", r.body)
}

// errorCode returns the "error" member of an error body.
func errorCode(t testing.TB, r response) string {
	t.Helper()
	m := r.json(t)
	s, _ := m["error"].(string)
	return s
}

// createAccount creates an account through the API.
func (e *env) createAccount(id, pkg string) admin.Account {
	e.t.Helper()
	r := e.post(e.adminKey, "/accounts", `{"id":"`+id+`","name":"Shop `+id+`","package":"`+pkg+`"}`)
	mustStatus(e.t, r, http.StatusCreated)
	var a admin.Account
	r.decode(e.t, &a)
	return a
}

// createKeys creates keys through the API.
func (e *env) createKeys(body string) admin.KeyPair {
	e.t.Helper()
	r := e.post(e.adminKey, "/keys", body)
	mustStatus(e.t, r, http.StatusCreated)
	var p admin.KeyPair
	r.decode(e.t, &p)
	return p
}

// events returns the audit events written so far (the writer must be
// closed first).
func (e *env) events() []audit.Event {
	e.close()
	return e.sink.Events()
}
