package admin_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/access"
	"github.com/keygate/keygate/account"
	"github.com/keygate/keygate/admin"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/internal/testpackages"
	"github.com/keygate/keygate/iprule"
)

// mint creates a test secret key on acct_admin with perms, directly with
// the manager, and returns the plaintext and the ID.
func (e *env) mint(perms ...string) (string, string) {
	e.t.Helper()
	return e.mintOn("acct_admin", keygate.ModeTest, perms...)
}

func (e *env) mintOn(acct string, mode keygate.Mode, perms ...string) (string, string) {
	e.t.Helper()
	ctx := keygate.WithActor(context.Background(), "keygate init")
	a, err := e.accounts.Get(ctx, acct)
	require.NoError(e.t, err)
	k, rec, err := e.keys.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{Account: acct, Mode: mode, Package: a.Package, Permissions: perms}, Kind: keygate.KindSecret})
	require.NoError(e.t, err)
	e.mu.Lock()
	e.secrets = append(e.secrets, k.Reveal())
	e.mu.Unlock()
	return k.Reveal(), rec.ID
}

// mintHMAC creates an HMAC credential on acct with perms and returns its
// key ID.
func (e *env) mintHMAC(acct string, perms ...string) string {
	e.t.Helper()
	a, err := e.accounts.Get(context.Background(), acct)
	require.NoError(e.t, err)
	secret, c, err := e.hmac.Create(keygate.WithActor(context.Background(), "keygate init"),
		httpsig.CreateParams{Grant: keygate.Grant{Account: acct, Mode: keygate.ModeTest, Package: a.Package, Permissions: perms}})
	require.NoError(e.t, err)
	e.mu.Lock()
	e.secrets = append(e.secrets, secret.Base64())
	e.mu.Unlock()
	return c.KeyID
}

// matrixCall is one admin route of the matrix: the call to make, set up
// afresh for each caller, and its status when the caller may make it.
type matrixCall struct {
	method, route string // as in the OpenAPI document, relative to the prefix
	setup         func(e *env) (path, body string)
	ok            int
}

// adminRoutes are every admin route, with a call that succeeds for any
// caller holding the route's permission: the credentials it creates or
// changes hold no permission, so that nothing needs covering.
var adminRoutes = []matrixCall{
	{"POST", "/accounts", func(*env) (string, string) { return "/accounts", `{"name":"Shop"}` }, 201},
	{"GET", "/accounts", func(*env) (string, string) { return "/accounts", "" }, 200},
	{"GET", "/accounts/{id}", func(*env) (string, string) { return "/accounts/acct_m", "" }, 200},
	{"PATCH", "/accounts/{id}", func(*env) (string, string) { return "/accounts/acct_m", `{"name":"Renamed"}` }, 200},
	{"POST", "/accounts/{id}/disable", func(e *env) (string, string) {
		a, err := e.accounts.Create(context.Background(), account.CreateParams{Name: "To disable"})
		require.NoError(e.t, err)
		return "/accounts/" + a.ID + "/disable", ""
	}, 200},
	{"POST", "/accounts/{id}/enable", func(e *env) (string, string) {
		a, err := e.accounts.Create(context.Background(), account.CreateParams{Name: "To enable"})
		require.NoError(e.t, err)
		_, err = e.accounts.Disable(context.Background(), a.ID)
		require.NoError(e.t, err)
		return "/accounts/" + a.ID + "/enable", ""
	}, 200},
	{"POST", "/keys", func(*env) (string, string) { return "/keys", `{"account":"acct_m","mode":"test"}` }, 201},
	{"GET", "/keys", func(*env) (string, string) { return "/keys", "" }, 200},
	{"GET", "/keys/{id}", func(e *env) (string, string) { _, id := e.mintOn("acct_m", "test"); return "/keys/" + id, "" }, 200},
	{"PATCH", "/keys/{id}", func(e *env) (string, string) {
		_, id := e.mintOn("acct_m", "test")
		return "/keys/" + id, `{"name":"till 2","allowed_ips":["192.0.2.0/24"]}`
	}, 200},
	{"POST", "/keys/{id}/rotate", func(e *env) (string, string) {
		_, id := e.mintOn("acct_m", "test")
		return "/keys/" + id + "/rotate", ""
	}, 200},
	{"POST", "/keys/{id}/revoke", func(e *env) (string, string) {
		_, id := e.mintOn("acct_m", "test")
		return "/keys/" + id + "/revoke", ""
	}, 200},
	{"POST", "/keys/{id}/disable", func(e *env) (string, string) {
		_, id := e.mintOn("acct_m", "test")
		return "/keys/" + id + "/disable", ""
	}, 200},
	{"POST", "/keys/{id}/enable", func(e *env) (string, string) {
		_, id := e.mintOn("acct_m", "test")
		_, err := e.keys.Disable(context.Background(), id)
		require.NoError(e.t, err)
		return "/keys/" + id + "/enable", ""
	}, 200},
	{"POST", "/keys/{id}/approve", func(e *env) (string, string) {
		_, id := e.mintOn("acct_m", "live")
		return "/keys/" + id + "/approve", ""
	}, 200},
	{"POST", "/hmac-keys", func(*env) (string, string) { return "/hmac-keys", `{"account":"acct_m","mode":"test"}` }, 201},
	{"GET", "/hmac-keys", func(*env) (string, string) { return "/hmac-keys", "" }, 200},
	{"GET", "/hmac-keys/{id}", func(e *env) (string, string) { return "/hmac-keys/" + e.mintHMAC("acct_m"), "" }, 200},
	{"POST", "/hmac-keys/{id}/rotate", func(e *env) (string, string) { return "/hmac-keys/" + e.mintHMAC("acct_m") + "/rotate", "" }, 200},
	{"POST", "/hmac-keys/{id}/revoke", func(e *env) (string, string) { return "/hmac-keys/" + e.mintHMAC("acct_m") + "/revoke", "" }, 200},
	{"POST", "/tokens/revoke", func(*env) (string, string) { return "/tokens/revoke", `{"subject":"user_1"}` }, 200},
	{"GET", "/audit", func(*env) (string, string) { return "/audit", "" }, 200},
	{"POST", "/ip-rules", func(e *env) (string, string) {
		return "/ip-rules", `{"account":"acct_m","action":"deny","cidr":"` + e.freshCIDR() + `"}`
	}, 201},
	{"GET", "/ip-rules", func(*env) (string, string) { return "/ip-rules", "" }, 200},
	{"DELETE", "/ip-rules/{id}", func(e *env) (string, string) {
		r, err := e.ipRules.Create(context.Background(), iprule.Rule{ID: iprule.NewID(), Account: "acct_m", Action: iprule.Deny, CIDR: e.freshCIDR()})
		require.NoError(e.t, err)
		return "/ip-rules/" + r.ID, ""
	}, 200},
	{"GET", "/openapi.json", func(*env) (string, string) { return "/openapi.json", "" }, 200},
}

// cidrs counts the prefixes freshCIDR hands out.
var cidrs atomic.Int64

// freshCIDR returns an IPv6 prefix that no rule has yet, in canonical
// form.
func (e *env) freshCIDR() string {
	return "2001:db8:" + strconv.FormatInt(cidrs.Add(1), 16) + "::/48"
}

// routePermission is the permission a route requires, "" for none.
func routePermission(method, route string) string {
	switch {
	case route == "/openapi.json":
		return ""
	case route == "/keys/{id}/approve":
		return admin.PermissionReview
	case method == "GET":
		return admin.PermissionRead
	}
	return admin.PermissionWrite
}

// TestRouteMatrix: every admin route × a caller with each single admin
// permission, with "admin:*" and with "*:*": the route's permission (or a
// wildcard covering it) lets the call through, anything else is 403
// insufficient_scope from the middleware.
func TestRouteMatrix(t *testing.T) {
	// Every route of the OpenAPI document under the prefix is in the
	// matrix (the OpenAPI test checks the document against the routes).
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(newEnv(t, envOptions{}).get("", "/openapi.json").body, &doc))
	documented := 0
	for path, ops := range doc.Paths {
		if strings.HasPrefix(path, "/oauth/") || strings.HasPrefix(path, "/.well-known/") {
			continue // the reference server's OAuth endpoints, not the handler's
		}
		for m := range ops {
			documented++
			i := slices.IndexFunc(adminRoutes, func(c matrixCall) bool {
				return c.method == strings.ToUpper(m) && c.route == path
			})
			assert.GreaterOrEqual(t, i, 0, "%s %s is not in the matrix", m, path)
		}
	}
	assert.Equal(t, len(adminRoutes), documented, "the matrix has every documented admin route, once")

	callers := []struct {
		name  string
		perms []string
	}{
		{"admin:read", []string{admin.PermissionRead}},
		{"admin:write", []string{admin.PermissionWrite}},
		{"admin:review", []string{admin.PermissionReview}},
		{"admin:*", []string{"admin:*"}},
		{"*:*", []string{"*:*"}},
	}
	e := newEnv(t, envOptions{separateReview: true, packages: testpackages.Retail()})
	_, err := e.accounts.Create(context.Background(), account.CreateParams{ID: "acct_m", Name: "Matrix"})
	require.NoError(t, err)
	for _, c := range callers {
		key, _ := e.mint(c.perms...)
		held := access.MustNewGrants(c.perms, nil, nil)
		for _, rt := range adminRoutes {
			path, body := rt.setup(e)
			want := rt.ok
			if perm := routePermission(rt.method, rt.route); perm != "" && !held.Allows(access.MustParsePermission(perm)) {
				want = http.StatusForbidden
			}
			r := e.send(req{method: rt.method, path: path, key: key, body: body})
			if assert.Equal(t, want, r.status, "%s × %s %s: %s", c.name, rt.method, rt.route, r.body) && want == http.StatusForbidden {
				assert.Equal(t, "insufficient_scope", errorCode(t, r))
				assert.NotContains(t, r.json(t), "fields", "the middleware's refusal")
			}
		}
	}
}

// refusal is an escalation attempt: the call, who makes it, and the
// refusal expected.
type refusal struct {
	name      string
	key, id   string // the caller's plaintext key and ID
	method    string
	path      string
	body      string
	code      string // the error code
	field     string // the member "fields" names, for insufficient_scope
	permSeen  string // a permission the field's message names
	otherwise int    // the status today's code gave (for the record)
}

// TestEscalationsRefusedAndAudited: a caller gives only what it holds, no
// credential changes itself, and an approver neither created nor widened
// the key; each refusal is a 403 whose request event is a denial with the
// refusal's code as reason and the caller's key ID.
func TestEscalationsRefusedAndAudited(t *testing.T) {
	e := newEnv(t, envOptions{separateReview: true, packages: testpackages.Retail()})
	ctx := context.Background()
	for _, a := range []account.CreateParams{
		{ID: "acct_go", Name: "GO shop", Package: testpackages.Go},
		{ID: "acct_prime", Name: "PRIME shop", Package: testpackages.Prime},
		{ID: "acct_none", Name: "No package"},
	} {
		_, err := e.accounts.Create(ctx, a)
		require.NoError(t, err)
	}
	// The writer holds admin:write and admin:read, and every permission
	// of the GO package, and orders:*.
	writerPerms := append([]string{admin.PermissionWrite, admin.PermissionRead, "orders:*"}, testpackages.Retail().Permissions(testpackages.Go)...)
	wKey, wID := e.mint(writerPerms...)
	// A reviewer that can also write; and a second, pure reviewer.
	rKey, rID := e.mint(admin.PermissionReview, admin.PermissionWrite, "orders:*")
	r2Key, r2ID := e.mint(admin.PermissionReview)
	// Targets: a powerful key, a powerful HMAC credential, a plain key.
	_, strongID := e.mintOn("acct_go", keygate.ModeTest, "*:*")
	strongHMAC := e.mintHMAC("acct_prime", "analytics:export") // on PRIME: it holds analytics:export
	_, plainID := e.mintOn("acct_go", keygate.ModeTest, "products:read")
	_, ordersID := e.mintOn("acct_go", keygate.ModeTest, "orders:read")

	// What the writer may do: give what it holds, wildcards included.
	for _, ok := range []struct{ method, path, body string }{
		{"POST", "/keys", `{"account":"acct_go","mode":"test","permissions":["orders:*","products:read:store_1"],"roles":["cashier"]}`},
		{"POST", "/keys", `{"account":"acct_go","mode":"test"}`}, // a standard GO key: the writer holds GO
		{"POST", "/hmac-keys", `{"account":"acct_go","mode":"test","permissions":["orders:refund"]}`},
		{"PATCH", "/keys/" + plainID, `{"permissions":["orders:*","offers:read"]}`},
		{"POST", "/keys/" + plainID + "/rotate", ""},
		{"PATCH", "/accounts/acct_none", `{"package":"GO"}`},
	} {
		r := e.send(req{method: ok.method, path: ok.path, key: wKey, body: ok.body})
		assert.Less(t, r.status, 300, "%s %s: %s", ok.method, ok.path, r.body)
	}

	// A live key created by the admin key, whose permissions the
	// reviewer-writer then widens; and one the reviewer-writer creates.
	live := e.createKeys(`{"account":"acct_go","mode":"live","kind":"sk","permissions":["orders:read"]}`).Secret
	mustStatus(t, e.patch(rKey, "/keys/"+live.ID, `{"permissions":["orders:read","orders:write"]}`), http.StatusOK)
	r := e.post(rKey, "/keys", `{"account":"acct_go","mode":"live","kind":"sk","permissions":["orders:read"]}`)
	mustStatus(t, r, http.StatusCreated)
	var own admin.KeyPair
	r.decode(t, &own)

	// A powerful key someone disabled; an HMAC credential whose account
	// moved up to PRIME after it was created (its stored package stays
	// GO: what applies is the account's).
	_, disabledStrongID := e.mintOn("acct_go", keygate.ModeTest, "*:*")
	_, err := e.keys.Disable(ctx, disabledStrongID)
	require.NoError(t, err)
	_, err = e.accounts.Create(ctx, account.CreateParams{ID: "acct_up", Name: "Moving up", Package: testpackages.Go})
	require.NoError(t, err)
	movedHMAC := e.mintHMAC("acct_up")
	mustStatus(t, e.patch(e.adminKey, "/accounts/acct_up", `{"package":"PRIME"}`), http.StatusOK)
	shown := e.get(e.adminKey, "/hmac-keys/"+movedHMAC)
	mustStatus(t, shown, http.StatusOK)
	assert.Contains(t, shown.json(t)["effective_permissions"], "checkout:start", "shown with its account's package, PRIME")

	// A disabled account holding a powerful key.
	_, err = e.accounts.Create(ctx, account.CreateParams{ID: "acct_locked", Name: "Locked", Package: testpackages.Go})
	require.NoError(t, err)
	e.mintOn("acct_locked", keygate.ModeTest, "*:*")
	_, err = e.accounts.Disable(ctx, "acct_locked")
	require.NoError(t, err)

	refusals := []refusal{
		{name: "enable the account of a more powerful key", key: wKey, id: wID, method: "POST", path: "/accounts/acct_locked/enable",
			code: "insufficient_scope", field: "id", permSeen: "*:*", otherwise: 200},
		{name: "enable a more powerful key", key: wKey, id: wID, method: "POST", path: "/keys/" + disabledStrongID + "/enable",
			code: "insufficient_scope", field: "id", permSeen: "*:*", otherwise: 200},
		{name: "HMAC rotate a credential whose account moved up", key: wKey, id: wID, method: "POST", path: "/hmac-keys/" + movedHMAC + "/rotate",
			code: "insufficient_scope", field: "id", permSeen: "checkout:start", otherwise: 200},
		{name: "create a key with more than held", key: wKey, id: wID, method: "POST", path: "/keys",
			body: `{"account":"acct_go","mode":"test","permissions":["*:*"]}`, code: "insufficient_scope", field: "permissions", permSeen: "*:*", otherwise: 201},
		{name: "create a key with a wildcard wider than held", key: wKey, id: wID, method: "POST", path: "/keys",
			body: `{"account":"acct_go","mode":"test","permissions":["orders:read","*:read"]}`, code: "insufficient_scope", field: "permissions", permSeen: "*:read", otherwise: 201},
		{name: "create a key with an admin permission not held", key: wKey, id: wID, method: "POST", path: "/keys",
			body: `{"account":"acct_go","mode":"test","permissions":["admin:review"]}`, code: "insufficient_scope", field: "permissions", permSeen: "admin:review", otherwise: 201},
		{name: "create a key with roles expanding beyond", key: wKey, id: wID, method: "POST", path: "/keys",
			body: `{"account":"acct_go","mode":"test","roles":["manager"]}`, code: "insufficient_scope", field: "roles", permSeen: "analytics:export", otherwise: 201},
		{name: "create a standard key on a package beyond", key: wKey, id: wID, method: "POST", path: "/keys",
			body: `{"account":"acct_prime","mode":"test"}`, code: "insufficient_scope", field: "permissions", permSeen: "checkout:start", otherwise: 201},
		{name: "PATCH own permissions", key: wKey, id: wID, method: "PATCH", path: "/keys/" + wID,
			body: `{"permissions":["admin:read","admin:write","admin:review"]}`, code: "self_modification", otherwise: 200},
		{name: "PATCH own IP rules", key: wKey, id: wID, method: "PATCH", path: "/keys/" + wID,
			body: `{"allowed_ips":[]}`, code: "self_modification", otherwise: 200},
		{name: "PATCH another key's permissions beyond held", key: wKey, id: wID, method: "PATCH", path: "/keys/" + plainID,
			body: `{"permissions":["analytics:export"]}`, code: "insufficient_scope", field: "permissions", permSeen: "analytics:export", otherwise: 200},
		{name: "PATCH a key to a standard key beyond held", key: rKey, id: rID, method: "PATCH", path: "/keys/" + ordersID,
			body: `{"permissions":[]}`, code: "insufficient_scope", field: "permissions", permSeen: "stores:read", otherwise: 200},
		{name: "PATCH a more powerful key", key: wKey, id: wID, method: "PATCH", path: "/keys/" + strongID,
			body: `{"expires":null}`, code: "insufficient_scope", field: "id", permSeen: "*:*", otherwise: 200},
		{name: "rotate a more powerful key", key: wKey, id: wID, method: "POST", path: "/keys/" + strongID + "/rotate",
			code: "insufficient_scope", field: "id", permSeen: "*:*", otherwise: 200},
		{name: "rotate itself", key: wKey, id: wID, method: "POST", path: "/keys/" + wID + "/rotate", code: "self_modification", otherwise: 200},
		{name: "disable itself", key: wKey, id: wID, method: "POST", path: "/keys/" + wID + "/disable", code: "self_modification", otherwise: 200},
		{name: "enable itself", key: wKey, id: wID, method: "POST", path: "/keys/" + wID + "/enable", code: "self_modification", otherwise: 409},
		{name: "approve a key one created", key: rKey, id: rID, method: "POST", path: "/keys/" + own.Secret.ID + "/approve",
			code: "separation_of_duties", otherwise: 403},
		{name: "approve a key one widened", key: rKey, id: rID, method: "POST", path: "/keys/" + live.ID + "/approve",
			code: "separation_of_duties", otherwise: 200},
		{name: "HMAC create beyond held", key: wKey, id: wID, method: "POST", path: "/hmac-keys",
			body: `{"account":"acct_go","mode":"test","permissions":["*:*"]}`, code: "insufficient_scope", field: "permissions", permSeen: "*:*", otherwise: 201},
		{name: "HMAC create with roles beyond", key: wKey, id: wID, method: "POST", path: "/hmac-keys",
			body: `{"account":"acct_go","mode":"test","roles":["manager"]}`, code: "insufficient_scope", field: "roles", permSeen: "analytics:export", otherwise: 201},
		{name: "HMAC rotate a more powerful credential", key: wKey, id: wID, method: "POST", path: "/hmac-keys/" + strongHMAC + "/rotate",
			code: "insufficient_scope", field: "id", permSeen: "analytics:export", otherwise: 200},
		{name: "account package change beyond held", key: wKey, id: wID, method: "PATCH", path: "/accounts/acct_go",
			body: `{"package":"PRIME"}`, code: "insufficient_scope", field: "package", permSeen: "checkout:start", otherwise: 200},
	}
	reqIDs := map[string]refusal{}
	for _, c := range refusals {
		r := e.send(req{method: c.method, path: c.path, key: c.key, body: c.body})
		if !assert.Equal(t, http.StatusForbidden, r.status, "%s: %s", c.name, r.body) {
			continue
		}
		assert.Equal(t, c.code, errorCode(t, r), c.name)
		if c.field != "" {
			var body admin.Error
			r.decode(t, &body)
			assert.Contains(t, body.Fields[c.field], c.permSeen, "%s: fields %v", c.name, body.Fields)
		}
		reqIDs[r.header.Get("X-Request-Id")] = c
	}

	// Nothing was changed by the refusals.
	rec, err := e.keys.Get(ctx, wID)
	require.NoError(t, err)
	assert.Equal(t, writerPerms, rec.Permissions)
	assert.False(t, rec.Disabled)
	a, err := e.accounts.Get(ctx, "acct_go")
	require.NoError(t, err)
	assert.Equal(t, testpackages.Go, a.Package)
	for _, id := range []string{live.ID, own.Secret.ID} {
		rec, err := e.keys.Get(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, apikey.StatusPendingReview, rec.Status)
	}

	// Another reviewer approves both; revoking oneself is allowed.
	mustStatus(t, e.post(r2Key, "/keys/"+live.ID+"/approve", ""), http.StatusOK)
	mustStatus(t, e.post(r2Key, "/keys/"+own.Secret.ID+"/approve", ""), http.StatusOK)
	mustStatus(t, e.post(wKey, "/keys/"+wID+"/revoke", ""), http.StatusOK)
	assert.Equal(t, http.StatusUnauthorized, e.whoami(wKey))
	_ = r2ID

	// Each refusal is audited: a denial, its reason, the caller.
	found := 0
	for _, ev := range e.events() {
		c, ok := reqIDs[ev.RequestID]
		if !ok || ev.Route == "" {
			continue
		}
		found++
		assert.Equal(t, audit.Deny, ev.Decision, c.name)
		assert.Equal(t, c.code, ev.Reason, c.name)
		assert.Equal(t, c.id, ev.KeyID, c.name)
		assert.Equal(t, http.StatusForbidden, ev.Status, c.name)
		assert.Equal(t, "api_key", ev.AuthMethod, c.name)
	}
	assert.Equal(t, len(refusals), found, "one request event per refusal")
}

// TestTokenCountsAsItsClientKey: an access token obtained with a key is
// that key for the self-modification rule, and holds the token's
// permissions for the coverage rule.
func TestTokenCountsAsItsClientKey(t *testing.T) {
	e := newEnv(t, envOptions{})
	_, id := e.mint(admin.PermissionWrite)
	c := jwtClaims(id, "ops@example.com", "acct_admin")
	c.Permissions = []string{admin.PermissionWrite}
	tok, _, err := e.issuer.Issue(t.Context(), c)
	require.NoError(t, err)
	r := e.patch(tok, "/keys/"+id, `{"name":"renamed"}`)
	mustStatus(t, r, http.StatusForbidden)
	assert.Equal(t, admin.CodeSelfModification, errorCode(t, r))
	r = e.post(tok, "/keys/"+id+"/rotate", "")
	mustStatus(t, r, http.StatusForbidden)
	assert.Equal(t, admin.CodeSelfModification, errorCode(t, r))
	e.createAccount("acct_t", "")
	r = e.post(tok, "/keys", `{"account":"acct_t","mode":"test","permissions":["admin:write"]}`)
	mustStatus(t, r, http.StatusCreated)
	r = e.post(tok, "/keys", `{"account":"acct_t","mode":"test","permissions":["admin:read"]}`)
	mustStatus(t, r, http.StatusForbidden)
	assert.Equal(t, admin.CodeInsufficientScope, errorCode(t, r))
}

// TestHMACCallerGrantsOnlyWhatItHolds: a caller signing with an HMAC
// credential is held to the same rules, and the refusals are audited
// under its key ID.
func TestHMACCallerGrantsOnlyWhatItHolds(t *testing.T) {
	e := newEnv(t, envOptions{})
	secret, c, err := e.hmac.Create(keygate.WithActor(context.Background(), "keygate init"),
		httpsig.CreateParams{Grant: keygate.Grant{Account: "acct_admin", Mode: keygate.ModeTest, Permissions: []string{admin.PermissionWrite, "orders:read"}}})
	require.NoError(t, err)
	signer := &httpsig.Signer{KeyID: c.KeyID, Secret: secret.Reveal(), Now: e.clock.Now}
	send := func(method, path, body string) response {
		t.Helper()
		r, err := http.NewRequest(method, e.server.URL+prefix+path, strings.NewReader(body))
		require.NoError(t, err)
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		require.NoError(t, signer.Sign(r, []byte(body)))
		res, err := e.server.Client().Do(r)
		require.NoError(t, err)
		defer res.Body.Close()
		var out response
		out.status, out.header = res.StatusCode, res.Header
		out.body = must(io.ReadAll(res.Body))
		return out
	}
	e.createAccount("acct_h", "")
	mustStatus(t, send("POST", "/keys", `{"account":"acct_h","mode":"test","permissions":["orders:read"]}`), http.StatusCreated)
	denied := map[string]string{}
	for _, c := range []struct{ method, path, body, code string }{
		{"POST", "/keys", `{"account":"acct_h","mode":"test","permissions":["orders:*"]}`, admin.CodeInsufficientScope},
		{"POST", "/hmac-keys", `{"account":"acct_h","mode":"test","permissions":["*:*"]}`, admin.CodeInsufficientScope},
		{"POST", "/hmac-keys/" + c.KeyID + "/rotate", "", admin.CodeSelfModification},
	} {
		r := send(c.method, c.path, c.body)
		mustStatus(t, r, http.StatusForbidden)
		assert.Equal(t, c.code, errorCode(t, r))
		denied[r.header.Get("X-Request-Id")] = c.code
	}
	// Revoking itself is allowed.
	mustStatus(t, send("POST", "/hmac-keys/"+c.KeyID+"/revoke", ""), http.StatusOK)
	found := 0
	for _, ev := range e.events() {
		if code, ok := denied[ev.RequestID]; ok {
			found++
			assert.Equal(t, audit.Deny, ev.Decision)
			assert.Equal(t, code, ev.Reason)
			assert.Equal(t, c.KeyID, ev.KeyID)
			assert.Equal(t, "hmac", ev.AuthMethod)
		}
	}
	assert.Equal(t, len(denied), found)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
