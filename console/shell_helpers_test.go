package console_test

import (
	"context"
	"crypto/tls"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/account"
	"github.com/keygate/keygate/admin"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/console"
	"github.com/keygate/keygate/console/consolestore"
	"github.com/keygate/keygate/internal/testpackages"
	"github.com/keygate/keygate/middleware"
	"github.com/keygate/keygate/password"
	"github.com/keygate/keygate/ratelimit"
)

// The users every test environment has, with their passwords.
const (
	opName    = "olivia" // operator: admin:read, admin:write, admin:review
	opPass    = "operator password 1"
	readName  = "rita" // operator: admin:read only
	readPass  = "reader password 1"
	ownerName = "oscar" // owner of acct_shop
	ownerPass = "owner password 1"
)

// testEnv is a console over memory stores, mounted at /console.
type testEnv struct {
	t        testing.TB
	handler  http.Handler // the service's mux
	console  *console.Handler
	accounts *account.Manager
	keys     *apikey.Manager
	users    *console.Users
	sessions *console.Sessions
	sink     *audit.MemorySink
}

// envOptions changes the test environment.
type envOptions struct {
	noHistory      bool // no audit history (admin's and the console's)
	noSummary      bool
	authFailures   ratelimit.Policy
	signInFailures ratelimit.Policy
	tlsTerminated  bool
	sessionStore   consolestore.SessionStore // nil: memory
	limiter        ratelimit.Peeker          // failed sign-ins per username; nil: the console's own
}

// cheap Argon2id costs for the tests.
var testParams = password.Params{Memory: 64, Time: 1, Threads: 1}

func newEnv(t testing.TB, o envOptions) *testEnv {
	t.Helper()
	ctx := keygate.WithActor(context.Background(), "test")
	sink := audit.NewMemorySink(10_000)
	packages := testpackages.Retail()
	accounts, err := account.NewManager(account.Config{})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := apikey.NewManager(apikey.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if o.authFailures == (ratelimit.Policy{}) {
		o.authFailures = ratelimit.Policy{Name: "auth-failures", Limit: 50, Window: time.Minute}
	}
	auth, err := middleware.New(middleware.Config{APIKeys: keys,
		Access: middleware.AccessConfig{Packages: packages, AuthFailures: o.authFailures}})
	if err != nil {
		t.Fatal(err)
	}
	acfg := admin.Config{Prefix: "/admin/v1", Auth: auth, Accounts: accounts, Keys: keys, SeparateReview: true}
	if !o.noHistory {
		acfg.Audit = sink
	}
	adm, err := admin.New(acfg)
	if err != nil {
		t.Fatal(err)
	}
	users, err := console.NewUsers(console.UsersConfig{Params: testParams})
	if err != nil {
		t.Fatal(err)
	}
	sessions, err := console.NewSessions(console.SessionsConfig{Store: o.sessionStore})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []account.CreateParams{
		{ID: "acct_shop", Name: "Shop", Package: "GO"},
		{ID: "acct_other", Name: "Other"},
	} {
		if _, err := accounts.Create(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []struct {
		u  consolestore.User
		pw string
	}{
		{consolestore.User{Username: opName, Role: consolestore.RoleOperator, Permissions: []string{"admin:read", "admin:write", "admin:review"}}, opPass},
		{consolestore.User{Username: readName, Role: consolestore.RoleOperator, Permissions: []string{"admin:read"}}, readPass},
		{consolestore.User{Username: ownerName, Role: consolestore.RoleOwner, Account: "acct_shop"}, ownerPass},
	} {
		if err := users.Add(ctx, u.u, u.pw); err != nil {
			t.Fatal(err)
		}
	}
	cfg := console.Config{Prefix: "/console", Admin: adm, Auth: auth, Users: users, Sessions: sessions,
		SignInFailures: o.signInFailures, TLSTerminated: o.tlsTerminated, Limiter: o.limiter,
		Audit: func(ctx context.Context, e audit.Event) {
			if err := sink.Write(ctx, []audit.Event{e}); err != nil {
				t.Errorf("audit: %v", err)
			}
		}}
	if !o.noHistory {
		cfg.History = sink
	}
	if !o.noSummary {
		cfg.Summary = sink
	}
	h, err := console.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/console/", h)
	mux.Handle("/admin/v1/", adm)
	return &testEnv{t: t, handler: mux, console: h, accounts: accounts, keys: keys, users: users, sessions: sessions, sink: sink}
}

// page is one response of the console.
type page struct {
	*http.Response
	body string
}

// client is a browser: it keeps the session cookie and the last form
// token, and sends what a same-origin browser sends.
type client struct {
	env    *testEnv
	cookie string // the session ID; "" when signed out
	csrf   string
	host   string // the Host of the requests; "localhost" when empty
	tls    bool
	remote string // the client's address and port; "192.0.2.10:40000" when empty
}

func (e *testEnv) client() *client { return &client{env: e} }

// do sends one request.
func (c *client) do(method, target string, form url.Values, hdr http.Header) page {
	c.env.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, target, body)
	r.Host = "localhost"
	if c.host != "" {
		r.Host = c.host
	}
	if c.tls {
		r.TLS = &tls.ConnectionState{}
	}
	r.RemoteAddr = "192.0.2.10:40000"
	if c.remote != "" {
		r.RemoteAddr = c.remote
	}
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		r.Header.Set("Origin", "http://"+r.Host)
	}
	if c.cookie != "" {
		r.AddCookie(&http.Cookie{Name: console.SessionCookie, Value: c.cookie})
	}
	for k, vs := range hdr {
		r.Header[k] = vs
	}
	w := httptest.NewRecorder()
	c.env.handler.ServeHTTP(w, r)
	res := w.Result()
	b, _ := io.ReadAll(res.Body)
	p := page{Response: res, body: string(b)}
	for _, ck := range res.Cookies() {
		if ck.Name == console.SessionCookie {
			c.cookie = ck.Value
			if ck.MaxAge < 0 {
				c.cookie = ""
			}
		}
	}
	if m := csrfField.FindStringSubmatch(p.body); m != nil {
		c.csrf = html.UnescapeString(m[1])
	}
	return p
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]*)"`)

func (c *client) get(target string) page { c.env.t.Helper(); return c.do("GET", target, nil, nil) }

// post posts form with the client's form token.
func (c *client) post(target string, form url.Values) page {
	c.env.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", c.csrf)
	}
	return c.do("POST", target, form, nil)
}

// signIn signs in and fails the test if that does not work.
func (c *client) signIn(username, pw string) {
	c.env.t.Helper()
	p := c.do("POST", "/console/signin", url.Values{"username": {username}, "password": {pw}}, nil)
	if p.StatusCode != http.StatusSeeOther || c.cookie == "" {
		c.env.t.Fatalf("sign in as %s: %d %s", username, p.StatusCode, p.body)
	}
	c.get("/console/") // picks up the form token
	if c.csrf == "" {
		c.env.t.Fatal("no form token on the overview")
	}
}

// signedIn returns a client signed in as username.
func (e *testEnv) signedIn(username, pw string) *client {
	e.t.Helper()
	c := e.client()
	c.signIn(username, pw)
	return c
}

// want checks a page's status and that its body holds every string of
// has.
func (p page) want(t *testing.T, status int, has ...string) {
	t.Helper()
	if p.StatusCode != status {
		t.Fatalf("status %d, want %d; body:\n%s", p.StatusCode, status, p.body)
	}
	for _, s := range has {
		if !strings.Contains(p.body, s) {
			t.Errorf("body lacks %q:\n%s", s, p.body)
		}
	}
}

// lacks checks that the body holds none of the strings.
func (p page) lacks(t *testing.T, not ...string) {
	t.Helper()
	for _, s := range not {
		if strings.Contains(p.body, s) {
			t.Errorf("body holds %q:\n%s", s, p.body)
		}
	}
}

// events returns the stored events with action.
func (e *testEnv) events(action string) []audit.Event {
	e.t.Helper()
	pg, err := e.sink.Query(context.Background(), audit.Query{Action: action, Limit: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	return pg.Events
}

// write stores events in the audit history.
func (e *testEnv) write(es ...audit.Event) {
	e.t.Helper()
	if err := e.sink.Write(context.Background(), es); err != nil {
		e.t.Fatal(err)
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// consoleUser is an operator with perms.
func consoleUser(name string, perms ...string) consolestore.User {
	return consolestore.User{Username: name, Role: consolestore.RoleOperator, Permissions: perms}
}

// brokenSessions is a session store that can be made to fail.
type brokenSessions struct {
	consolestore.SessionStore
	broken atomic.Bool
}

var errBroken = errors.New("store down")

func (b *brokenSessions) Create(ctx context.Context, h []byte, s consolestore.Session) error {
	if b.broken.Load() {
		return errBroken
	}
	return b.SessionStore.Create(ctx, h, s)
}

func (b *brokenSessions) Get(ctx context.Context, h []byte) (consolestore.Session, error) {
	if b.broken.Load() {
		return consolestore.Session{}, errBroken
	}
	return b.SessionStore.Get(ctx, h)
}

func (b *brokenSessions) Delete(ctx context.Context, h []byte) error {
	if b.broken.Load() {
		return errBroken
	}
	return b.SessionStore.Delete(ctx, h)
}
