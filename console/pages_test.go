package console_test

import (
	"bytes"
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/account"
	"github.com/keygate/keygate/admin"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/console"
	"github.com/keygate/keygate/console/consolestore"
	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/middleware"
	"github.com/keygate/keygate/password"
	"github.com/keygate/keygate/ratelimit"
)

// The hostile names of the pages' tests: they must render escaped.
const (
	hostileAccount = `<img src=x onerror=alert(1)>`
	hostileKey     = `it's "quoted" </script><script>alert(1)</script>`
)

// pgEnv is a console over in-memory managers, with the admin API it calls.
type pgEnv struct {
	t        *testing.T
	handler  http.Handler
	accounts *account.Manager
	keys     *apikey.Manager
	hmacs    *httpsig.Manager
	deny     jwt.Denylist
	sink     *audit.MemorySink
	users    *console.Users
	sessions *console.Sessions

	mu      sync.Mutex
	changes []keygate.Change // of the API key manager
}

// keyChanges returns the changes the API key manager reported.
func (e *pgEnv) keyChanges() []keygate.Change {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.changes)
}

func newPgEnv(t *testing.T) *pgEnv {
	t.Helper()
	e := &pgEnv{t: t, sink: audit.NewMemorySink(1 << 12)}
	var err error
	e.accounts, err = account.NewManager(account.Config{Packages: []string{"basic", "pro"}})
	require.NoError(t, err)
	e.keys, err = apikey.NewManager(apikey.Config{OnChange: func(_ context.Context, c keygate.Change) {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.changes = append(e.changes, c)
	}})
	require.NoError(t, err)
	e.hmacs, err = httpsig.NewManager(httpsig.Config{MasterKey: bytes.Repeat([]byte{7}, 32)})
	require.NoError(t, err)
	e.deny = jwt.NewMemoryDenylist()
	refresh, err := jwt.NewRefreshTokens(jwt.RefreshConfig{})
	require.NoError(t, err)
	auth, err := middleware.New(middleware.Config{APIKeys: e.keys,
		Access: middleware.AccessConfig{AuthFailures: ratelimit.Policy{Limit: -1}}})
	require.NoError(t, err)
	ad, err := admin.New(admin.Config{Prefix: "/admin/v1", Auth: auth, Accounts: e.accounts, Keys: e.keys, HMAC: e.hmacs,
		Denylist: e.deny, Refresh: refresh, Audit: e.sink, SeparateReview: true})
	require.NoError(t, err)
	e.users, err = console.NewUsers(console.UsersConfig{Params: password.Params{Memory: 64, Time: 1, Threads: 1}})
	require.NoError(t, err)
	e.sessions, err = console.NewSessions(console.SessionsConfig{})
	require.NoError(t, err)
	h, err := console.New(console.Config{Prefix: "/console", Admin: ad, Auth: auth, Users: e.users, Sessions: e.sessions, History: e.sink, Summary: e.sink})
	require.NoError(t, err)
	e.handler = h

	ctx := context.Background()
	for _, a := range []account.CreateParams{{ID: "acct_demo", Name: "Demo"}, {ID: "acct_other", Name: "Other"},
		{ID: "acct_evil", Name: hostileAccount}} {
		_, err := e.accounts.Create(ctx, a)
		require.NoError(t, err)
	}
	return e
}

// pgClient is a signed-in user of the console.
type pgClient struct {
	e      *pgEnv
	cookie string
	csrf   string
}

// operator signs in an operator with perms.
func (e *pgEnv) operator(name string, perms ...string) *pgClient {
	return e.signIn(consolestore.User{Username: name, Role: consolestore.RoleOperator, Permissions: perms})
}

// owner signs in the owner of acct.
func (e *pgEnv) owner(name, acct string) *pgClient {
	return e.signIn(consolestore.User{Username: name, Role: consolestore.RoleOwner, Account: acct})
}

func (e *pgEnv) signIn(u consolestore.User) *pgClient {
	e.t.Helper()
	ctx := context.Background()
	require.NoError(e.t, e.users.Add(ctx, u, "correct horse battery staple"))
	id, _, err := e.sessions.Start(ctx, u.Username)
	require.NoError(e.t, err)
	return &pgClient{e: e, cookie: id, csrf: console.CSRFToken(id)}
}

// pgResp is a response, its body read.
type pgResp struct {
	Status int
	Header http.Header
	Body   string
}

func (c *pgClient) do(method, path string, form url.Values) pgResp {
	c.e.t.Helper()
	var r *http.Request
	if form != nil {
		r = httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		r = httptest.NewRequest(method, path, nil)
	}
	r.RemoteAddr = "127.0.0.1:50000"
	r.Host = "127.0.0.1"
	r.AddCookie(&http.Cookie{Name: console.SessionCookie, Value: c.cookie})
	w := httptest.NewRecorder()
	c.e.handler.ServeHTTP(w, r)
	res := w.Result()
	return pgResp{Status: res.StatusCode, Header: res.Header, Body: w.Body.String()}
}

func (c *pgClient) get(path string) pgResp { return c.do(http.MethodGet, "/console"+path, nil) }

// post posts form (with the session's csrf field) to path.
func (c *pgClient) post(path string, form url.Values) pgResp {
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", c.csrf)
	return c.do(http.MethodPost, "/console"+path, form)
}

// field returns the value attribute of the input named name in body.
func field(t *testing.T, body, name string) string {
	t.Helper()
	m := regexp.MustCompile(`name="` + regexp.QuoteMeta(name) + `"[^>]*value="([^"]*)"`).FindStringSubmatch(body)
	require.NotNil(t, m, "no field %s", name)
	return html.UnescapeString(m[1])
}

var secretRE = regexp.MustCompile(`data-secret>([^<]*)<`)

// secrets returns the text of every data-secret element of body.
func secrets(body string) []string {
	var out []string
	for _, m := range secretRE.FindAllStringSubmatch(body, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

// record returns the record of the key whose plaintext is plain, and
// checks that plain is that key's (even before its approval).
func (e *pgEnv) record(plain string) apikey.Record {
	e.t.Helper()
	info, err := apikey.Parse(plain)
	require.NoError(e.t, err)
	rec := e.key(info.ID)
	if rec.Status == apikey.StatusActive && !rec.Disabled {
		_, err := e.keys.Verify(context.Background(), plain)
		require.NoError(e.t, err)
	}
	return rec
}

// mint creates a key with the manager directly, as actor.
func (e *pgEnv) mint(actor, acct string, mode keygate.Mode, name string) (string, apikey.Record) {
	e.t.Helper()
	ctx := keygate.WithActor(context.Background(), actor)
	k, rec, err := e.keys.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{Account: acct, Mode: mode}, Kind: keygate.KindSecret, Name: name})
	require.NoError(e.t, err)
	return k.Reveal(), rec
}

func (e *pgEnv) key(id string) apikey.Record {
	e.t.Helper()
	rec, err := e.keys.Lookup(context.Background(), id)
	require.NoError(e.t, err)
	return rec
}

func requireStatus(t *testing.T, r pgResp, status int) {
	t.Helper()
	require.Equal(t, status, r.Status, "body:\n%s", r.Body)
}

func TestPagesCreateKeyShowsSecretsOnce(t *testing.T) {
	e := newPgEnv(t)
	op := e.operator("alice", "*:*")

	form := op.get("/keys/new")
	requireStatus(t, form, http.StatusOK)
	require.Contains(t, form.Body, ">Create key</button>")
	idem := field(t, form.Body, "idem")
	require.NotEmpty(t, idem)

	vals := url.Values{"account": {"acct_demo"}, "mode": {"test"}, "kind": {""}, "name": {hostileKey}, "idem": {idem}}
	created := op.post("/keys/new", vals)
	requireStatus(t, created, http.StatusCreated)
	shown := secrets(created.Body)
	require.Len(t, shown, 2, "a pair: publishable and secret")
	require.Contains(t, created.Body, "leaving or reloading this page loses it")
	require.Contains(t, created.Body, `data-copy="secret-`)
	require.NotContains(t, created.Body, "</script><script>alert(1)")
	var ids []string
	for _, plain := range shown {
		rec := e.record(plain)
		require.Equal(t, "acct_demo", rec.Account)
		require.Equal(t, hostileKey, rec.Name)
		ids = append(ids, rec.ID)
	}

	// No page after the one-time display holds a plaintext.
	pages := []string{"/keys", "/keys?account=acct_demo", "/accounts/acct_demo", "/keys/" + ids[0], "/keys/" + ids[1],
		"/keys/" + ids[1] + "/edit"}
	for _, p := range pages {
		r := op.get(p)
		requireStatus(t, r, http.StatusOK)
		require.Empty(t, secrets(r.Body), p)
		for _, plain := range shown {
			require.NotContains(t, r.Body, plain, p)
		}
		require.NotContains(t, r.Body, "</script><script>alert(1)", p)
	}

	// The same form again (a reload, a second click): the keys of the first
	// post, without their secrets, and nothing new.
	again := op.post("/keys/new", vals)
	requireStatus(t, again, http.StatusCreated)
	require.Empty(t, secrets(again.Body))
	require.Contains(t, again.Body, "already created")
	for _, plain := range shown {
		require.NotContains(t, again.Body, plain)
	}
	require.Contains(t, again.Body, "/console/keys/"+ids[0])
	list, err := e.keys.List(context.Background(), apikey.ListFilter{Account: "acct_demo", Limit: 10})
	require.NoError(t, err)
	require.Len(t, list, 2)

	// The same form with other values: refused, not created.
	vals.Set("name", "other")
	reused := op.post("/keys/new", vals)
	requireStatus(t, reused, http.StatusUnprocessableEntity)
	require.Contains(t, reused.Body, "already submitted")
	require.Empty(t, secrets(reused.Body))
}

func TestPagesCreateKeyOneKind(t *testing.T) {
	e := newPgEnv(t)
	op := e.operator("alice", "*:*")
	r := op.post("/keys/new", url.Values{"account": {"acct_demo"}, "mode": {"test"}, "kind": {"sk"}, "name": {"server"}})
	requireStatus(t, r, http.StatusCreated)
	shown := secrets(r.Body)
	require.Len(t, shown, 1)
	require.Equal(t, keygate.KindSecret, e.record(shown[0]).Kind)
}

func TestPagesCreateKeyBadInput(t *testing.T) {
	e := newPgEnv(t)
	op := e.operator("alice", "*:*")
	for _, tc := range []struct {
		name   string
		form   url.Values
		field  string
		status int
	}{
		{"no account", url.Values{"mode": {"test"}}, "account", http.StatusBadRequest},
		{"unknown account", url.Values{"account": {"acct_nope"}, "mode": {"test"}}, "account", http.StatusBadRequest},
		{"bad mode", url.Values{"account": {"acct_demo"}, "mode": {"prod"}}, "mode", http.StatusBadRequest},
		{"bad kind", url.Values{"account": {"acct_demo"}, "mode": {"test"}, "kind": {"xx"}}, "kind", http.StatusBadRequest},
		{"bad permission", url.Values{"account": {"acct_demo"}, "mode": {"test"}, "permissions": {"NOT A PERMISSION"}}, "permissions", http.StatusBadRequest},
		{"control character in name", url.Values{"account": {"acct_demo"}, "mode": {"test"}, "name": {"a\x01b"}}, "name", http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := op.post("/keys/new", tc.form)
			requireStatus(t, r, tc.status)
			require.Contains(t, r.Body, `id="new-`+tc.field+`-error"`, "the field's error")
			require.Contains(t, r.Body, `aria-invalid="true"`)
			require.Contains(t, r.Body, ">Create key</button>", "the form again")
			require.Empty(t, secrets(r.Body))
		})
	}
	list, err := e.keys.List(context.Background(), apikey.ListFilter{Limit: 10})
	require.NoError(t, err)
	require.Empty(t, list)
}

func TestPagesReadOnlyOperatorCannotCreate(t *testing.T) {
	e := newPgEnv(t)
	reader := e.operator("rita", admin.PermissionRead)
	r := reader.post("/keys/new", url.Values{"account": {"acct_demo"}, "mode": {"test"}})
	requireStatus(t, r, http.StatusForbidden)
	require.Contains(t, r.Body, "You are not allowed to do this.")
	require.Contains(t, r.Body, ">Create key</button>")
	list, err := e.keys.List(context.Background(), apikey.ListFilter{Limit: 10})
	require.NoError(t, err)
	require.Empty(t, list)
}

func TestPagesOwnerKeys(t *testing.T) {
	e := newPgEnv(t)
	demo := e.owner("demo", "acct_demo")
	_, other := e.mint("keygate init", "acct_other", keygate.ModeTest, "theirs")
	_, mine := e.mint("keygate init", "acct_demo", keygate.ModeTest, "mine")

	form := demo.get("/keys/new")
	requireStatus(t, form, http.StatusOK)
	require.Regexp(t, `name="account" type="text" value="acct_demo" readonly`, form.Body)

	// Another account's key: 404, on every page and action.
	for _, p := range []string{"/keys/" + other.ID, "/keys/" + other.ID + "/edit"} {
		requireStatus(t, demo.get(p), http.StatusNotFound)
	}
	for _, a := range []string{"rotate", "revoke", "disable", "enable", "edit"} {
		requireStatus(t, demo.post("/keys/"+other.ID+"/"+a, url.Values{"confirmed": {"yes"}, "name": {"x"}}), http.StatusNotFound)
	}
	require.Equal(t, apikey.StatusActive, e.key(other.ID).Status)
	require.False(t, e.key(other.ID).Disabled)
	require.Equal(t, "theirs", e.key(other.ID).Name)

	// A create for another account is refused as if it did not exist.
	r := demo.post("/keys/new", url.Values{"account": {"acct_other"}, "mode": {"test"}})
	requireStatus(t, r, http.StatusBadRequest)
	require.Contains(t, r.Body, `id="new-account-error"`)
	list, err := e.keys.List(context.Background(), apikey.ListFilter{Account: "acct_other", Limit: 10})
	require.NoError(t, err)
	require.Len(t, list, 1)

	// The list shows its own keys only, whatever the filter says.
	l := demo.get("/keys?account=acct_other")
	requireStatus(t, l, http.StatusOK)
	require.Contains(t, l.Body, mine.ID)
	require.NotContains(t, l.Body, other.ID)
	require.NotContains(t, l.Body, `name="account"`, "no account filter for an owner")

	// Its own key: shown and managed.
	requireStatus(t, demo.get("/keys/"+mine.ID), http.StatusOK)
	requireStatus(t, demo.post("/keys/"+mine.ID+"/disable", url.Values{"confirmed": {"yes"}}), http.StatusSeeOther)
	require.True(t, e.key(mine.ID).Disabled)

	// A live key is a request for live activation: pending review, which
	// the owner cannot approve.
	require.Contains(t, demo.get("/accounts/acct_demo").Body, "Request live activation")
	live := demo.post("/keys/new", url.Values{"account": {"acct_demo"}, "mode": {"live"}, "kind": {"sk"}})
	requireStatus(t, live, http.StatusCreated)
	require.Contains(t, live.Body, "review")
	shown := secrets(live.Body)
	require.Len(t, shown, 1)
	pending := e.record(shown[0])
	require.Equal(t, apikey.StatusPendingReview, pending.Status)
	require.NotContains(t, demo.get("/keys/"+pending.ID).Body, "/approve")
}

func TestPagesOwnerRefusedOperatorPages(t *testing.T) {
	e := newPgEnv(t)
	demo := e.owner("demo", "acct_demo")
	_, rec := e.mint("alice", "acct_demo", keygate.ModeLive, "live")
	for _, p := range []string{"/review", "/tokens"} {
		requireStatus(t, demo.get(p), http.StatusNotFound)
	}
	for _, p := range []struct {
		path string
		form url.Values
	}{
		{"/review/" + rec.ID + "/approve", nil},
		{"/review/" + rec.ID + "/reject", url.Values{"confirmed": {"yes"}}},
		{"/tokens", url.Values{"jti": {"abc"}, "confirmed": {"yes"}}},
		{"/accounts", url.Values{"name": {"Mine now"}}},
		{"/accounts/acct_demo/package", url.Values{"package": {"pro"}}},
	} {
		requireStatus(t, demo.post(p.path, p.form), http.StatusNotFound)
	}
	require.Equal(t, apikey.StatusPendingReview, e.key(rec.ID).Status)
	as, err := e.accounts.List(context.Background(), account.ListFilter{Limit: 10})
	require.NoError(t, err)
	require.Len(t, as, 3)
	a, err := e.accounts.Get(context.Background(), "acct_demo")
	require.NoError(t, err)
	require.Empty(t, a.Package)
}

func TestPagesKeyPage(t *testing.T) {
	e := newPgEnv(t)
	op := e.operator("alice", "*:*")
	plain, rec := e.mint("keygate init", "acct_demo", keygate.ModeTest, hostileKey)
	require.NoError(t, e.sink.Write(context.Background(), []audit.Event{
		{Time: time.Now().UTC(), Action: "key.created", KeyID: rec.ID, Account: "acct_demo", Actor: "keygate init"},
		{Time: time.Now().UTC(), KeyID: rec.ID, Method: "GET", Route: "GET /v1/whoami", Decision: audit.Deny, Reason: "ip_denied", IP: "192.0.2.7"},
	}))

	// Its usage: the request events of the key, in its mode.
	now := time.Now().UTC()
	var reqs []audit.Event
	for i, d := range []audit.Decision{audit.Allow, audit.Allow, audit.Deny} {
		reqs = append(reqs, audit.Event{Time: now.Add(-time.Duration(i+1) * time.Minute), KeyID: rec.ID, Mode: "test", Decision: d})
	}
	reqs = append(reqs, audit.Event{Time: now.Add(-time.Minute), KeyID: "key_else", Mode: "test", Decision: audit.Allow})
	require.NoError(t, e.sink.Write(context.Background(), reqs))

	r := op.get("/keys/" + rec.ID)
	requireStatus(t, r, http.StatusOK)
	require.Contains(t, r.Body, "Requests with this key, last 24 hours: 2 allowed, 1 denied")
	require.Contains(t, r.Body, `<svg class="chart"`)
	for _, want := range []string{rec.ID, "acct_demo", "secret", "test", "keygate init", "key.created", "ip_denied", "192.0.2.7",
		">Rotate</button>", ">Revoke</button>", ">Disable</button>", `name="grace"`, "/console/audit?key_id=" + rec.ID,
		html.EscapeString(hostileKey)} {
		require.Contains(t, r.Body, want)
	}
	require.NotContains(t, r.Body, hostileKey, "the name is escaped")
	require.NotContains(t, r.Body, plain)
	require.Contains(t, r.Body, "…"+rec.Hint)

	requireStatus(t, op.get("/keys/key_nope"), http.StatusNotFound)
	requireStatus(t, op.get("/keys/bad%20id"), http.StatusNotFound)
}

func TestPagesRotateKey(t *testing.T) {
	e := newPgEnv(t)
	op := e.operator("alice", "*:*")
	old, rec := e.mint("keygate init", "acct_demo", keygate.ModeTest, "k")
	page := op.get("/keys/" + rec.ID)
	idem := field(t, page.Body, "idem")

	for _, tc := range []struct{ grace, msg string }{
		{"soon", "must be a duration"},
		{"-5", "must be a duration"},
		{"1.5s", "must be a duration"},
		{"31d", "must be a duration"},
		{"2592001", "2592000"},
		{"800h", "2592000"},
	} {
		r := op.post("/keys/"+rec.ID+"/rotate", url.Values{"grace": {tc.grace}, "idem": {idem}})
		requireStatus(t, r, http.StatusBadRequest)
		require.Contains(t, r.Body, `id="rotate-grace-error"`, tc.grace)
		require.Contains(t, r.Body, tc.msg, tc.grace)
		require.Contains(t, r.Body, `value="`+html.EscapeString(tc.grace)+`"`, "the value is kept")
	}
	require.True(t, e.key(rec.ID).RotatedAt.IsZero())

	r := op.post("/keys/"+rec.ID+"/rotate", url.Values{"grace": {"0"}, "idem": {idem}})
	requireStatus(t, r, http.StatusOK)
	shown := secrets(r.Body)
	require.Len(t, shown, 1)
	require.Equal(t, rec.ID, e.record(shown[0]).ID)
	_, err := e.keys.Verify(context.Background(), old)
	require.Error(t, err, "grace 0: the old key is refused at once")

	// Again with the same form: no second rotation, no secret.
	again := op.post("/keys/"+rec.ID+"/rotate", url.Values{"grace": {"0"}, "idem": {idem}})
	requireStatus(t, again, http.StatusOK)
	require.Empty(t, secrets(again.Body))
	require.Contains(t, again.Body, "already rotated")
	_, err = e.keys.Verify(context.Background(), shown[0])
	require.NoError(t, err)

	after := op.get("/keys/" + rec.ID)
	require.NotContains(t, after.Body, shown[0])

	// A grace period as a Go duration.
	r = op.post("/keys/"+rec.ID+"/rotate", url.Values{"grace": {"1h"}})
	requireStatus(t, r, http.StatusOK)
	_, err = e.keys.Verify(context.Background(), shown[0])
	require.NoError(t, err, "the previous secret works for the grace period")
}

func TestPagesRevokeDisableEnable(t *testing.T) {
	e := newPgEnv(t)
	op := e.operator("alice", "*:*")
	_, rec := e.mint("keygate init", "acct_demo", keygate.ModeTest, hostileKey)

	for _, tc := range []struct{ action, button string }{{"disable", "Disable"}, {"revoke", "Revoke"}} {
		c := op.post("/keys/"+rec.ID+"/"+tc.action, nil)
		requireStatus(t, c, http.StatusOK)
		require.Contains(t, c.Body, `action="/console/keys/`+rec.ID+`/`+tc.action+`"`)
		require.Contains(t, c.Body, `name="confirmed" value="yes"`)
		require.Contains(t, c.Body, "data-confirm-step")
		require.Contains(t, c.Body, ">"+tc.button+"</button>")
		require.Contains(t, c.Body, html.EscapeString(hostileKey))
		require.NotContains(t, c.Body, hostileKey)
	}
	cur := e.key(rec.ID)
	require.Equal(t, apikey.StatusActive, cur.Status, "nothing happens before the confirmation")
	require.False(t, cur.Disabled)

	d := op.post("/keys/"+rec.ID+"/disable", url.Values{"confirmed": {"yes"}})
	requireStatus(t, d, http.StatusSeeOther)
	require.Equal(t, "/console/keys/"+rec.ID+"?done=disabled", d.Header.Get("Location"))
	require.True(t, e.key(rec.ID).Disabled)
	page := op.get("/keys/" + rec.ID + "?done=disabled")
	require.Contains(t, page.Body, "The key was disabled")
	require.Contains(t, page.Body, ">Enable</button>")

	requireStatus(t, op.post("/keys/"+rec.ID+"/enable", nil), http.StatusSeeOther)
	require.False(t, e.key(rec.ID).Disabled)

	requireStatus(t, op.post("/keys/"+rec.ID+"/revoke", url.Values{"confirmed": {"yes"}}), http.StatusSeeOther)
	require.Equal(t, apikey.StatusRevoked, e.key(rec.ID).Status)

	// A revoked key: no actions, and the state refuses them (409 on its page).
	page = op.get("/keys/" + rec.ID)
	require.NotContains(t, page.Body, ">Rotate</button>")
	r := op.post("/keys/"+rec.ID+"/rotate", url.Values{"grace": {"0"}})
	requireStatus(t, r, http.StatusConflict)
	require.Contains(t, r.Body, "Not possible in the current state")
	require.Empty(t, secrets(r.Body))
}

func TestPagesEditKey(t *testing.T) {
	e := newPgEnv(t)
	alice := e.operator("alice", "*:*")
	bob := e.operator("bob", "*:*")
	created := alice.post("/keys/new", url.Values{"account": {"acct_demo"}, "mode": {"live"}, "kind": {"sk"}, "permissions": {"orders:read"}})
	requireStatus(t, created, http.StatusCreated)
	rec := e.record(secrets(created.Body)[0])
	setBy := rec.PermissionsSetBy
	require.NotEmpty(t, setBy)

	form := bob.get("/keys/" + rec.ID + "/edit")
	requireStatus(t, form, http.StatusOK)
	require.Contains(t, form.Body, "orders:read")

	// Bob renames it: only the name is sent, so bob did not set its
	// permissions and may still approve it.
	vals := url.Values{"name": {hostileKey}, "permissions": {"orders:read"}, "stores": {""}, "allowed_ips": {""},
		"denied_ips": {""}, "allowed_countries": {""}, "denied_countries": {""}, "expires": {""}}
	r := bob.post("/keys/"+rec.ID+"/edit", vals)
	requireStatus(t, r, http.StatusSeeOther)
	cur := e.key(rec.ID)
	require.Equal(t, hostileKey, cur.Name)
	require.Equal(t, setBy, cur.PermissionsSetBy)
	requireStatus(t, bob.post("/review/"+rec.ID+"/approve", nil), http.StatusSeeOther)

	// Bad input: the form again with the field's error, nothing changed.
	vals.Set("allowed_ips", "10.0.0.1/8")
	vals.Set("allowed_countries", "germany")
	bad := bob.post("/keys/"+rec.ID+"/edit", vals)
	requireStatus(t, bad, http.StatusBadRequest)
	require.Contains(t, bad.Body, `id="edit-allowed_ips-error"`)
	require.Contains(t, bad.Body, "10.0.0.1/8", "the value is kept")
	require.Empty(t, e.key(rec.ID).AllowedIPs)

	vals.Set("allowed_ips", "10.0.0.0/8\n192.0.2.1")
	vals.Set("allowed_countries", "DE, FR")
	vals.Set("expires", "2099-01-02T03:04:05Z")
	requireStatus(t, bob.post("/keys/"+rec.ID+"/edit", vals), http.StatusSeeOther)
	cur = e.key(rec.ID)
	require.Equal(t, []string{"10.0.0.0/8", "192.0.2.1"}, cur.AllowedIPs)
	require.Equal(t, []string{"DE", "FR"}, cur.AllowedCountries)
	require.Equal(t, time.Date(2099, 1, 2, 3, 4, 5, 0, time.UTC), cur.Expires.UTC())
	page := bob.get("/keys/" + rec.ID)
	require.Contains(t, page.Body, "192.0.2.1")
	require.Contains(t, page.Body, "2099-01-02")

	vals.Set("expires", "")
	requireStatus(t, bob.post("/keys/"+rec.ID+"/edit", vals), http.StatusSeeOther)
	require.True(t, e.key(rec.ID).Expires.IsZero(), "an empty expiry removes it")
}

func TestPagesReview(t *testing.T) {
	e := newPgEnv(t)
	alice := e.operator("alice", "*:*")
	bob := e.operator("bob", "*:*")
	writer := e.operator("walt", admin.PermissionRead, admin.PermissionWrite)
	created := alice.post("/keys/new", url.Values{"account": {"acct_evil"}, "mode": {"live"}, "kind": {"sk"}, "name": {hostileKey}})
	requireStatus(t, created, http.StatusCreated)
	rec := e.record(secrets(created.Body)[0])
	_, testKey := e.mint("keygate init", "acct_demo", keygate.ModeTest, "test key")

	list := bob.get("/review")
	requireStatus(t, list, http.StatusOK)
	require.Contains(t, list.Body, rec.ID)
	require.NotContains(t, list.Body, testKey.ID, "only keys pending review")
	require.Contains(t, list.Body, ">Approve</button>")
	require.NotContains(t, list.Body, hostileKey)

	page := bob.get("/keys/" + rec.ID)
	require.Contains(t, page.Body, "waits for an operator's review")
	require.Contains(t, page.Body, `action="/console/review/`+rec.ID+`/approve"`)

	// Separation of duties: its creator may not approve it.
	r := alice.post("/review/"+rec.ID+"/approve", nil)
	requireStatus(t, r, http.StatusForbidden)
	require.Contains(t, r.Body, "Separation of duties")
	require.Equal(t, apikey.StatusPendingReview, e.key(rec.ID).Status)

	// Without admin:review: refused, shown on the page.
	r = writer.post("/review/"+rec.ID+"/approve", nil)
	requireStatus(t, r, http.StatusForbidden)
	require.Contains(t, r.Body, "not allowed")

	r = bob.post("/review/"+rec.ID+"/approve", nil)
	requireStatus(t, r, http.StatusSeeOther)
	require.Equal(t, "/console/review?done=approved", r.Header.Get("Location"))
	require.Equal(t, apikey.StatusActive, e.key(rec.ID).Status)
	require.Equal(t, "console:bob", e.key(rec.ID).ApprovedBy)

	// Approving again: the state refuses it.
	requireStatus(t, bob.post("/review/"+rec.ID+"/approve", nil), http.StatusConflict)
	requireStatus(t, bob.post("/review/key_nope/approve", nil), http.StatusNotFound)
}

func TestPagesReject(t *testing.T) {
	e := newPgEnv(t)
	bob := e.operator("bob", "*:*")
	_, rec := e.mint("alice", "acct_demo", keygate.ModeLive, "live")
	c := bob.post("/review/"+rec.ID+"/reject", nil)
	requireStatus(t, c, http.StatusOK)
	require.Contains(t, c.Body, ">Reject</button>")
	require.Contains(t, c.Body, `name="confirmed" value="yes"`)
	require.Equal(t, apikey.StatusPendingReview, e.key(rec.ID).Status)

	r := bob.post("/review/"+rec.ID+"/reject", url.Values{"confirmed": {"yes"}})
	requireStatus(t, r, http.StatusSeeOther)
	require.Equal(t, apikey.StatusRevoked, e.key(rec.ID).Status)
	require.NotContains(t, bob.get("/review").Body, rec.ID)
}

func TestPagesKeysList(t *testing.T) {
	e := newPgEnv(t)
	op := e.operator("alice", "*:*")
	_, a := e.mint("x", "acct_demo", keygate.ModeTest, "a")
	_, b := e.mint("x", "acct_other", keygate.ModeLive, "b")

	all := op.get("/keys")
	requireStatus(t, all, http.StatusOK)
	require.Contains(t, all.Body, a.ID)
	require.Contains(t, all.Body, b.ID)
	for _, tc := range []struct {
		query     string
		has, hasn string
	}{
		{"?mode=live", b.ID, a.ID},
		{"?account=acct_demo", a.ID, b.ID},
		{"?status=pending_review", b.ID, a.ID},
		{"?kind=sk&mode=test", a.ID, b.ID},
	} {
		r := op.get("/keys" + tc.query)
		requireStatus(t, r, http.StatusOK)
		require.Contains(t, r.Body, tc.has, tc.query)
		require.NotContains(t, r.Body, tc.hasn, tc.query)
	}
	for _, q := range []string{"?status=bogus", "?mode=prod", "?cursor=nonsense", "?account=%3Cimg%3E"} {
		r := op.get("/keys" + q)
		requireStatus(t, r, http.StatusBadRequest)
		require.Contains(t, r.Body, "The filter is not valid", q)
		require.NotContains(t, r.Body, "<img>", q)
	}
}

func TestPagesKeysPagination(t *testing.T) {
	e := newPgEnv(t)
	op := e.operator("alice", "*:*")
	seen := map[string]bool{}
	for range 60 {
		_, rec := e.mint("x", "acct_demo", keygate.ModeTest, "")
		seen[rec.ID] = false
	}
	path := "/keys?account=acct_demo"
	pages := 0
	for path != "" {
		r := op.get(path)
		requireStatus(t, r, http.StatusOK)
		for id := range seen {
			if strings.Contains(r.Body, `/console/keys/`+id+`"`) {
				require.False(t, seen[id], "each key once")
				seen[id] = true
			}
		}
		pages++
		m := regexp.MustCompile(`href="/console(/keys\?[^"]*)" rel="next"`).FindStringSubmatch(r.Body)
		path = ""
		if m != nil {
			path = html.UnescapeString(m[1])
			require.Contains(t, path, "account=acct_demo", "the filter is kept")
		}
	}
	require.Equal(t, 2, pages)
	for id, ok := range seen {
		require.True(t, ok, id)
	}
}

func TestPagesAccounts(t *testing.T) {
	e := newPgEnv(t)
	op := e.operator("alice", "*:*")
	list := op.get("/accounts")
	requireStatus(t, list, http.StatusOK)
	require.Contains(t, list.Body, "acct_demo")
	require.Contains(t, list.Body, html.EscapeString(hostileAccount))
	require.NotContains(t, list.Body, hostileAccount)
	require.Contains(t, list.Body, ">Create account</button>")

	// Search, by ID or name, ignoring case.
	for _, tc := range []struct{ q, has, hasn string }{{"DEMO", "acct_demo", "acct_other"}, {"oth", "acct_other", "acct_demo"}} {
		r := op.get("/accounts?q=" + url.QueryEscape(tc.q))
		requireStatus(t, r, http.StatusOK)
		require.Contains(t, r.Body, `/console/accounts/`+tc.has+`"`, tc.q)
		require.NotContains(t, r.Body, `/console/accounts/`+tc.hasn+`"`, tc.q)
	}
	r := op.get("/accounts?q=" + url.QueryEscape(hostileAccount))
	requireStatus(t, r, http.StatusOK)
	require.NotContains(t, r.Body, hostileAccount)

	r = op.post("/accounts", url.Values{"id": {"acct_new"}, "name": {"New & shiny"}, "package": {"basic"}})
	requireStatus(t, r, http.StatusSeeOther)
	require.Equal(t, "/console/accounts/acct_new?done=account", r.Header.Get("Location"))
	a, err := e.accounts.Get(context.Background(), "acct_new")
	require.NoError(t, err)
	require.Equal(t, "basic", a.Package)

	for _, tc := range []struct {
		name   string
		form   url.Values
		field  string
		status int
	}{
		{"duplicate", url.Values{"id": {"acct_new"}, "name": {"Again"}}, "id", http.StatusConflict},
		{"no name", url.Values{"id": {"acct_x"}}, "name", http.StatusBadRequest},
		{"bad id", url.Values{"id": {"a b"}, "name": {"x"}}, "id", http.StatusBadRequest},
		{"unknown package", url.Values{"name": {"x"}, "package": {"gold"}}, "package", http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := op.post("/accounts", tc.form)
			requireStatus(t, r, tc.status)
			require.Contains(t, r.Body, `id="create-`+tc.field+`-error"`)
		})
	}

	page := op.get("/accounts/acct_evil")
	requireStatus(t, page, http.StatusOK)
	require.NotContains(t, page.Body, hostileAccount)
	require.Contains(t, page.Body, html.EscapeString(hostileAccount))

	// Change package.
	bad := op.post("/accounts/acct_demo/package", url.Values{"package": {"gold"}})
	requireStatus(t, bad, http.StatusBadRequest)
	require.Contains(t, bad.Body, `id="package-package-error"`)
	requireStatus(t, op.post("/accounts/acct_demo/package", url.Values{"package": {"pro"}}), http.StatusSeeOther)
	a, err = e.accounts.Get(context.Background(), "acct_demo")
	require.NoError(t, err)
	require.Equal(t, "pro", a.Package)

	requireStatus(t, op.get("/accounts/acct_nope"), http.StatusNotFound)
	requireStatus(t, op.post("/accounts/acct_nope/package", url.Values{"package": {"pro"}}), http.StatusNotFound)
}

func TestPagesAccountPage(t *testing.T) {
	e := newPgEnv(t)
	demo := e.owner("demo", "acct_demo")
	_, test := e.mint("x", "acct_demo", keygate.ModeTest, "test secret")
	_, live := e.mint("x", "acct_demo", keygate.ModeLive, "live secret")
	_, other := e.mint("x", "acct_other", keygate.ModeTest, "other")
	_, cred, err := e.hmacs.Create(context.Background(), httpsig.CreateParams{Grant: keygate.Grant{Account: "acct_demo", Mode: keygate.ModeTest}, Name: "signer"})
	require.NoError(t, err)
	require.NoError(t, e.sink.Write(context.Background(), []audit.Event{
		{Time: time.Now().UTC(), Action: "key.created", KeyID: test.ID, Account: "acct_demo"},
		{Time: time.Now().UTC(), Action: "key.created", KeyID: other.ID, Account: "acct_other"},
	}))

	r := demo.get("/accounts/acct_demo")
	requireStatus(t, r, http.StatusOK)
	for _, want := range []string{"Test keys", "Live keys", "Publishable keys", "Secret keys", test.ID, live.ID, cred.KeyID, "key.created"} {
		require.Contains(t, r.Body, want)
	}
	require.NotContains(t, r.Body, other.ID)
	require.NotContains(t, r.Body, "Change package", "operators only")
	require.Less(t, strings.Index(r.Body, "Test keys"), strings.Index(r.Body, test.ID))
	require.Less(t, strings.Index(r.Body, test.ID), strings.Index(r.Body, "Live keys"))
	require.Less(t, strings.Index(r.Body, "Live keys"), strings.Index(r.Body, live.ID))

	requireStatus(t, demo.get("/accounts/acct_other"), http.StatusNotFound)
	requireStatus(t, demo.get("/accounts/acct_evil"), http.StatusNotFound)
	l := demo.get("/accounts")
	requireStatus(t, l, http.StatusOK)
	require.Contains(t, l.Body, "acct_demo")
	require.NotContains(t, l.Body, "acct_other")
	require.NotContains(t, l.Body, "Create account")
}

func TestPagesHMAC(t *testing.T) {
	e := newPgEnv(t)
	op := e.operator("alice", "*:*")
	demo := e.owner("demo", "acct_demo")

	list := op.get("/hmac-keys")
	requireStatus(t, list, http.StatusOK)
	idem := field(t, list.Body, "idem")
	vals := url.Values{"account": {"acct_demo"}, "mode": {"test"}, "name": {hostileKey}, "idem": {idem}}
	r := op.post("/hmac-keys", vals)
	requireStatus(t, r, http.StatusCreated)
	shown := secrets(r.Body)
	require.Len(t, shown, 1)
	require.NotContains(t, r.Body, hostileKey)
	creds, err := e.hmacs.List(context.Background(), httpsig.ListFilter{Account: "acct_demo", Limit: 10})
	require.NoError(t, err)
	require.Len(t, creds, 1)
	id := creds[0].KeyID

	again := op.post("/hmac-keys", vals)
	requireStatus(t, again, http.StatusCreated)
	require.Empty(t, secrets(again.Body))
	require.NotContains(t, again.Body, shown[0])

	for _, c := range []*pgClient{op, demo} {
		for _, p := range []string{"/hmac-keys", "/hmac-keys/" + id, "/accounts/acct_demo"} {
			page := c.get(p)
			requireStatus(t, page, http.StatusOK)
			require.Contains(t, page.Body, id)
			require.NotContains(t, page.Body, shown[0], p)
			require.Empty(t, secrets(page.Body), p)
		}
	}

	bad := op.post("/hmac-keys", url.Values{"account": {"acct_demo"}, "mode": {"prod"}})
	requireStatus(t, bad, http.StatusBadRequest)
	require.Contains(t, bad.Body, `id="create-mode-error"`)

	rot := demo.post("/hmac-keys/"+id+"/rotate", url.Values{"grace": {"90s"}})
	requireStatus(t, rot, http.StatusOK)
	rotated := secrets(rot.Body)
	require.Len(t, rotated, 1)
	require.NotEqual(t, shown[0], rotated[0])
	requireStatus(t, demo.post("/hmac-keys/"+id+"/rotate", url.Values{"grace": {"forever"}}), http.StatusBadRequest)

	c := demo.post("/hmac-keys/"+id+"/revoke", nil)
	requireStatus(t, c, http.StatusOK)
	require.Contains(t, c.Body, `name="confirmed" value="yes"`)
	requireStatus(t, demo.post("/hmac-keys/"+id+"/revoke", url.Values{"confirmed": {"yes"}}), http.StatusSeeOther)
	cred, err := e.hmacs.Get(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, httpsig.StatusRevoked, cred.Status)

	// Another account's credential: 404 for an owner.
	_, theirs, err := e.hmacs.Create(context.Background(), httpsig.CreateParams{Grant: keygate.Grant{Account: "acct_other", Mode: keygate.ModeTest}})
	require.NoError(t, err)
	requireStatus(t, demo.get("/hmac-keys/"+theirs.KeyID), http.StatusNotFound)
	requireStatus(t, demo.post("/hmac-keys/"+theirs.KeyID+"/rotate", nil), http.StatusNotFound)
	requireStatus(t, demo.post("/hmac-keys/"+theirs.KeyID+"/revoke", url.Values{"confirmed": {"yes"}}), http.StatusNotFound)
	require.NotContains(t, demo.get("/hmac-keys").Body, theirs.KeyID)
}

func TestPagesTokens(t *testing.T) {
	e := newPgEnv(t)
	op := e.operator("alice", "*:*")
	page := op.get("/tokens")
	requireStatus(t, page, http.StatusOK)
	for _, f := range []string{`name="jti"`, `name="subject"`, `name="family"`} {
		require.Contains(t, page.Body, f)
	}

	c := op.post("/tokens", url.Values{"jti": {"tok-123"}})
	requireStatus(t, c, http.StatusOK)
	require.Contains(t, c.Body, `name="confirmed" value="yes"`)
	require.Contains(t, c.Body, `name="jti" value="tok-123"`)
	revoked, err := e.deny.IsRevoked(context.Background(), "tok-123", "", "", time.Now())
	require.NoError(t, err)
	require.False(t, revoked)

	r := op.post("/tokens", url.Values{"jti": {"tok-123"}, "confirmed": {"yes"}})
	requireStatus(t, r, http.StatusOK)
	require.Contains(t, r.Body, "Revoked")
	revoked, err = e.deny.IsRevoked(context.Background(), "tok-123", "", "", time.Now())
	require.NoError(t, err)
	require.True(t, revoked)

	r = op.post("/tokens", url.Values{"subject": {"user:42"}, "confirmed": {"yes"}})
	requireStatus(t, r, http.StatusOK)

	for _, tc := range []struct {
		form   url.Values
		field  string
		status int
	}{
		{url.Values{"confirmed": {"yes"}}, "jti", http.StatusBadRequest},
		{url.Values{"jti": {"has space"}, "confirmed": {"yes"}}, "jti", http.StatusBadRequest},
		{url.Values{"family": {"not-a-family"}, "confirmed": {"yes"}}, "family", http.StatusBadRequest},
	} {
		r := op.post("/tokens", tc.form)
		requireStatus(t, r, tc.status)
		require.Contains(t, r.Body, `id="revoke-`+tc.field+`-error"`)
	}
}

func TestPagesCSRF(t *testing.T) {
	e := newPgEnv(t)
	op := e.operator("alice", "*:*")
	_, rec := e.mint("x", "acct_demo", keygate.ModeTest, "k")
	for _, p := range []string{"/keys/new", "/keys/" + rec.ID + "/revoke", "/accounts", "/tokens", "/hmac-keys"} {
		r := op.do(http.MethodPost, "/console"+p, url.Values{"confirmed": {"yes"}, "account": {"acct_demo"}, "mode": {"test"}, "name": {"n"}, "jti": {"x"}})
		requireStatus(t, r, http.StatusForbidden)
	}
	require.Equal(t, apikey.StatusActive, e.key(rec.ID).Status)
	list, err := e.keys.List(context.Background(), apikey.ListFilter{Limit: 10})
	require.NoError(t, err)
	require.Len(t, list, 1)
}

func TestPagesSignedOut(t *testing.T) {
	e := newPgEnv(t)
	anon := &pgClient{e: e, cookie: "nope"}
	for _, p := range []string{"/keys", "/keys/new", "/accounts", "/review", "/hmac-keys", "/tokens"} {
		r := anon.get(p)
		requireStatus(t, r, http.StatusSeeOther)
		require.True(t, strings.HasPrefix(r.Header.Get("Location"), "/console/signin"), p)
	}
}

func TestPagesWithoutReadPermission(t *testing.T) {
	e := newPgEnv(t)
	nobody := e.operator("nora", "orders:read")
	_, rec := e.mint("x", "acct_demo", keygate.ModeTest, "k")
	_, cred, err := e.hmacs.Create(context.Background(), httpsig.CreateParams{Grant: keygate.Grant{Account: "acct_demo", Mode: keygate.ModeTest}})
	require.NoError(t, err)
	for _, p := range []string{"/keys", "/keys/" + rec.ID, "/keys/" + rec.ID + "/edit", "/accounts", "/accounts/acct_demo",
		"/review", "/hmac-keys", "/hmac-keys/" + cred.KeyID} {
		r := nobody.get(p)
		requireStatus(t, r, http.StatusForbidden)
		require.Contains(t, r.Body, "You are not allowed to do this.", p)
	}
}

func TestPagesOwnerHMAC(t *testing.T) {
	e := newPgEnv(t)
	demo := e.owner("demo", "acct_demo")
	list := demo.get("/hmac-keys")
	requireStatus(t, list, http.StatusOK)
	require.Regexp(t, `name="account" type="text" value="acct_demo" readonly`, list.Body)
	r := demo.post("/hmac-keys", url.Values{"account": {"acct_demo"}, "mode": {"live"}, "name": {"signer"}})
	requireStatus(t, r, http.StatusCreated)
	require.Len(t, secrets(r.Body), 1)

	r = demo.post("/hmac-keys", url.Values{"account": {"acct_other"}, "mode": {"test"}})
	requireStatus(t, r, http.StatusBadRequest)
	require.Contains(t, r.Body, `id="create-account-error"`)
	creds, err := e.hmacs.List(context.Background(), httpsig.ListFilter{Account: "acct_other", Limit: 10})
	require.NoError(t, err)
	require.Empty(t, creds)
}

func TestPagesEditKeyPartialForm(t *testing.T) {
	e := newPgEnv(t)
	op := e.operator("alice", "*:*")
	ctx := keygate.WithActor(context.Background(), "keygate init")
	_, rec, err := e.keys.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{Account: "acct_demo", Mode: keygate.ModeTest, Permissions: []string{"orders:read"}, AllowedIPs: []string{"192.0.2.0/24"}}, Kind: keygate.KindSecret})
	require.NoError(t, err)
	// A post with the name only changes the name, nothing it lacks.
	requireStatus(t, op.post("/keys/"+rec.ID+"/edit", url.Values{"name": {"renamed"}}), http.StatusSeeOther)
	cur := e.key(rec.ID)
	require.Equal(t, "renamed", cur.Name)
	require.Equal(t, []string{"orders:read"}, cur.Permissions)
	require.Equal(t, []string{"192.0.2.0/24"}, cur.AllowedIPs)
	require.Equal(t, "keygate init", cur.PermissionsSetBy)
	// Nothing changed: nothing sent.
	n := len(e.keyChanges())
	requireStatus(t, op.post("/keys/"+rec.ID+"/edit", url.Values{"name": {"renamed"}, "permissions": {"orders:read"}}), http.StatusSeeOther)
	require.Len(t, e.keyChanges(), n)
}

// An account owner cannot give its keys a permission of the admin API: such
// a key would use the admin API over HTTP, where no account confinement
// applies (every account, every key).
func TestPagesOwnerCannotMintAdminKey(t *testing.T) {
	e := newPgEnv(t)
	demo := e.owner("demo", "acct_demo")
	_, mine := e.mint("keygate init", "acct_demo", keygate.ModeTest, "mine")
	for _, perms := range []string{"admin:read", "admin:write", "admin:read\norders:read"} {
		r := demo.post("/keys/new", url.Values{"account": {"acct_demo"}, "mode": {"test"}, "kind": {"sk"}, "permissions": {perms}})
		requireStatus(t, r, http.StatusForbidden)
		require.Empty(t, secrets(r.Body), perms)
		r = demo.post("/keys/"+mine.ID+"/edit", url.Values{"permissions": {perms}})
		requireStatus(t, r, http.StatusForbidden)
	}
	require.Empty(t, e.key(mine.ID).Permissions)
	list, err := e.keys.List(context.Background(), apikey.ListFilter{Account: "acct_demo", Limit: 10})
	require.NoError(t, err)
	require.Len(t, list, 1)
}
