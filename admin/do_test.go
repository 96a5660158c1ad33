package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/access"
	"github.com/keygate/keygate/admin"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/internal/testpackages"
	"github.com/keygate/keygate/iprule"
)

// operator is a Do caller with every permission, as a console operator.
func operator(name string, perms ...string) admin.Caller {
	if len(perms) == 0 {
		perms = []string{"*:*"}
	}
	return admin.Caller{Principal: keygate.Principal{Subject: "console:" + name},
		Grants: access.MustNewGrants(perms, nil, nil)}
}

// owner is a Do caller confined to acct, as a console account owner: it
// may read and write, and give what a GO standard key holds.
func owner(name, acct string) admin.Caller {
	perms := append([]string{admin.PermissionRead, admin.PermissionWrite}, testpackages.Retail().Permissions("GO")...)
	return admin.Caller{Principal: keygate.Principal{Subject: "console:" + name},
		Grants: access.MustNewGrants(perms, nil, nil), Account: acct}
}

func do(t *testing.T, h *admin.Handler, c admin.Caller, method, path, body string) admin.Response {
	t.Helper()
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	return h.Do(context.Background(), c, admin.Request{Method: method, Path: path, Body: b})
}

func TestDoRunsTheEndpoint(t *testing.T) {
	e := newEnv(t, envOptions{separateReview: true, packages: testpackages.Retail()})
	e.createAccount("acct_a", "GO")
	alice := operator("alice")

	r := do(t, e.handler, alice, "POST", "/keys", `{"account":"acct_a","mode":"test","name":"POS"}`)
	require.Nil(t, r.Err)
	require.Equal(t, http.StatusCreated, r.Status)
	pair, ok := r.Body.(admin.KeyPair)
	require.True(t, ok, "%T", r.Body)
	require.NotEmpty(t, pair.Secret.Key, "the plaintext is shown once")
	assert.Equal(t, "console:alice", pair.Secret.CreatedBy, "the caller's subject is the actor")
	assert.Equal(t, http.StatusOK, e.whoami(pair.Secret.Key))

	// Validation: the admin API's field errors.
	r = do(t, e.handler, alice, "POST", "/keys", `{"account":"acct_a","mode":"prod"}`)
	require.NotNil(t, r.Err)
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Equal(t, admin.CodeValidationFailed, r.Err.Code)
	assert.Contains(t, r.Err.Fields, "mode")

	// A caller gives only what it holds.
	narrow := operator("bob", admin.PermissionWrite, "products:read")
	r = do(t, e.handler, narrow, "POST", "/keys", `{"account":"acct_a","mode":"test","permissions":["orders:read"]}`)
	require.NotNil(t, r.Err)
	assert.Equal(t, admin.CodeInsufficientScope, r.Err.Code)

	// The route's permission.
	reader := operator("carol", admin.PermissionRead)
	r = do(t, e.handler, reader, "POST", "/keys/"+pair.Secret.ID+"/revoke", ``)
	require.NotNil(t, r.Err)
	assert.Equal(t, http.StatusForbidden, r.Status)
	r = do(t, e.handler, reader, "GET", "/keys/"+pair.Secret.ID, ``)
	require.Nil(t, r.Err)
	assert.Equal(t, pair.Secret.ID, r.Body.(*admin.Key).ID)

	// Rotation, then revocation, take effect.
	r = do(t, e.handler, alice, "POST", "/keys/"+pair.Secret.ID+"/rotate", `{"grace_seconds":0}`)
	require.Nil(t, r.Err)
	rotated := r.Body.(*admin.Key)
	assert.Equal(t, http.StatusUnauthorized, e.whoami(pair.Secret.Key))
	assert.Equal(t, http.StatusOK, e.whoami(rotated.Key))
	r = do(t, e.handler, alice, "POST", "/keys/"+pair.Secret.ID+"/revoke", ``)
	require.Nil(t, r.Err)
	assert.Equal(t, http.StatusUnauthorized, e.whoami(rotated.Key))

	// Unknown routes and methods.
	assert.Equal(t, http.StatusNotFound, do(t, e.handler, alice, "GET", "/nope", ``).Status)
	assert.Equal(t, http.StatusMethodNotAllowed, do(t, e.handler, alice, "PUT", "/keys", ``).Status)
	assert.Equal(t, http.StatusNotFound, do(t, e.handler, alice, "GET", "keys", ``).Status)
	assert.Equal(t, http.StatusBadRequest, do(t, e.handler, admin.Caller{Grants: alice.Grants}, "GET", "/keys", ``).Status,
		"a caller without a name cannot be recorded")

	// The changes are reported with the caller as actor.
	var actions []string
	for _, ev := range e.events() {
		if ev.KeyID == pair.Secret.ID && ev.Action != "" {
			assert.Equal(t, "console:alice", ev.Actor, ev.Action)
			actions = append(actions, ev.Action)
		}
	}
	assert.Equal(t, []string{"key.created", "key.rotated", "key.revoked"}, actions)
}

func TestDoSeparationOfDuties(t *testing.T) {
	e := newEnv(t, envOptions{separateReview: true, packages: testpackages.Retail()})
	e.createAccount("acct_a", "GO")
	alice, bob := operator("alice"), operator("bob")
	r := do(t, e.handler, alice, "POST", "/keys", `{"account":"acct_a","mode":"live","kind":"sk"}`)
	require.Nil(t, r.Err)
	id := r.Body.(admin.KeyPair).Secret.ID
	assert.Equal(t, "pending_review", r.Body.(admin.KeyPair).Secret.Status)

	r = do(t, e.handler, alice, "POST", "/keys/"+id+"/approve", ``)
	require.NotNil(t, r.Err)
	assert.Equal(t, admin.CodeSeparationOfDuties, r.Err.Code)
	r = do(t, e.handler, bob, "POST", "/keys/"+id+"/approve", ``)
	require.Nil(t, r.Err)
	assert.Equal(t, "active", r.Body.(*admin.Key).Status)
}

func TestDoIdempotentReplayHasNoSecret(t *testing.T) {
	e := newEnv(t, envOptions{packages: testpackages.Retail()})
	e.createAccount("acct_a", "GO")
	alice := operator("alice")
	req := admin.Request{Method: "POST", Path: "/keys", Body: []byte(`{"account":"acct_a","mode":"test"}`), IdempotencyKey: "form-1"}
	first := e.handler.Do(context.Background(), alice, req)
	require.Nil(t, first.Err)
	secret := first.Body.(admin.KeyPair).Secret.Key
	again := e.handler.Do(context.Background(), alice, req)
	require.Nil(t, again.Err)
	assert.True(t, again.Replayed)
	assert.Nil(t, again.Body)
	assert.Contains(t, string(again.Raw), first.Body.(admin.KeyPair).Secret.ID)
	assert.NotContains(t, string(again.Raw), secret)
	// Another caller's key of the same name is another key.
	other := e.handler.Do(context.Background(), operator("bob"), req)
	require.Nil(t, other.Err)
	assert.False(t, other.Replayed)
}

func TestDoConfinedToAnAccount(t *testing.T) {
	e := newEnv(t, envOptions{packages: testpackages.Retail(), separateReview: true})
	e.createAccount("acct_a", "GO")
	e.createAccount("acct_b", "GO")
	theirs := e.createKeys(`{"account":"acct_b","mode":"test"}`)
	r := e.post(e.adminKey, "/hmac-keys", `{"account":"acct_b","mode":"test"}`)
	mustStatus(t, r, http.StatusCreated)
	theirHMAC := r.json(t)["id"].(string)

	ann := owner("ann", "acct_a")
	r2 := do(t, e.handler, ann, "POST", "/keys", `{"account":"acct_a","mode":"test","name":"till"}`)
	require.Nil(t, r2.Err)
	mine := r2.Body.(admin.KeyPair)
	r2 = do(t, e.handler, ann, "POST", "/hmac-keys", `{"account":"acct_a","mode":"test"}`)
	require.Nil(t, r2.Err)
	myHMAC := r2.Body.(*admin.HMACKey).ID

	refused := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"another account's key", "GET", "/keys/" + theirs.Secret.ID, "", 404, admin.CodeNotFound},
		{"rotate another account's key", "POST", "/keys/" + theirs.Secret.ID + "/rotate", `{}`, 404, admin.CodeNotFound},
		{"revoke another account's key", "POST", "/keys/" + theirs.Secret.ID + "/revoke", ``, 404, admin.CodeNotFound},
		{"disable another account's key", "POST", "/keys/" + theirs.Secret.ID + "/disable", ``, 404, admin.CodeNotFound},
		{"update another account's key", "PATCH", "/keys/" + theirs.Secret.ID, `{"name":"x"}`, 404, admin.CodeNotFound},
		{"another account's HMAC credential", "GET", "/hmac-keys/" + theirHMAC, "", 404, admin.CodeNotFound},
		{"revoke another account's HMAC credential", "POST", "/hmac-keys/" + theirHMAC + "/revoke", ``, 404, admin.CodeNotFound},
		{"another account", "GET", "/accounts/acct_b", "", 404, admin.CodeNotFound},
		{"keys of another account", "GET", "/keys?account=acct_b", "", 404, admin.CodeNotFound},
		{"audit of another account", "GET", "/audit?account=acct_b", "", 404, admin.CodeNotFound},
		{"create a key for another account", "POST", "/keys", `{"account":"acct_b","mode":"test"}`, 400, admin.CodeValidationFailed},
		{"create an HMAC credential for another account", "POST", "/hmac-keys", `{"account":"acct_b","mode":"test"}`, 400, admin.CodeValidationFailed},
		{"change its package", "PATCH", "/accounts/acct_a", `{"package":"PRIME"}`, 403, admin.CodeInsufficientScope},
		{"create an account", "POST", "/accounts", `{"id":"acct_c","name":"C","package":"GO"}`, 403, admin.CodeInsufficientScope},
		{"disable its account", "POST", "/accounts/acct_a/disable", ``, 403, admin.CodeInsufficientScope},
		{"revoke a token", "POST", "/tokens/revoke", `{"subject":"acct_b"}`, 403, admin.CodeInsufficientScope},
		{"approve", "POST", "/keys/" + mine.Secret.ID + "/approve", ``, 403, admin.CodeInsufficientScope},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			r := do(t, e.handler, ann, c.method, c.path, c.body)
			require.NotNil(t, r.Err, "status %d", r.Status)
			assert.Equal(t, c.status, r.Status)
			assert.Equal(t, c.code, r.Err.Code)
		})
	}
	// Nothing of acct_b changed.
	assert.Equal(t, http.StatusOK, e.whoami(theirs.Secret.Key))

	// Its own resources.
	r2 = do(t, e.handler, ann, "GET", "/keys", "")
	require.Nil(t, r2.Err)
	for _, k := range r2.Body.(admin.List[*admin.Key]).Data {
		assert.Equal(t, "acct_a", k.Account)
	}
	assert.Len(t, r2.Body.(admin.List[*admin.Key]).Data, 2)
	r2 = do(t, e.handler, ann, "GET", "/accounts", "")
	require.Nil(t, r2.Err)
	accts := r2.Body.(admin.List[admin.Account]).Data
	require.Len(t, accts, 1)
	assert.Equal(t, "acct_a", accts[0].ID)
	r2 = do(t, e.handler, ann, "GET", "/accounts?q=ACCT_A", "")
	require.Nil(t, r2.Err)
	assert.Len(t, r2.Body.(admin.List[admin.Account]).Data, 1, "the search applies")
	r2 = do(t, e.handler, ann, "GET", "/accounts?q=acct_b", "")
	require.Nil(t, r2.Err)
	assert.Empty(t, r2.Body.(admin.List[admin.Account]).Data, "the search applies")
	r2 = do(t, e.handler, ann, "GET", "/hmac-keys", "")
	require.Nil(t, r2.Err)
	require.Len(t, r2.Body.(admin.List[*admin.HMACKey]).Data, 1)
	assert.Equal(t, myHMAC, r2.Body.(admin.List[*admin.HMACKey]).Data[0].ID)
	for _, path := range []string{"/keys/" + mine.Secret.ID + "/rotate", "/keys/" + mine.Secret.ID + "/disable",
		"/keys/" + mine.Secret.ID + "/enable", "/hmac-keys/" + myHMAC + "/rotate", "/keys/" + mine.Publishable.ID + "/revoke"} {
		r := do(t, e.handler, ann, "POST", path, `{}`)
		assert.Nil(t, r.Err, "%s: %+v", path, r.Err)
	}
	r2 = do(t, e.handler, ann, "GET", "/audit", "")
	require.Nil(t, r2.Err)
	e.close()
	r2 = do(t, e.handler, ann, "GET", "/audit", "")
	require.Nil(t, r2.Err)
	evs := r2.Body.(admin.List[audit.Event]).Data
	require.NotEmpty(t, evs)
	for _, ev := range evs {
		assert.Equal(t, "acct_a", ev.Account)
	}

	// A live key an owner creates waits for review (its activation
	// request), which the owner cannot give.
	r2 = do(t, e.handler, ann, "POST", "/keys", `{"account":"acct_a","mode":"live","kind":"sk"}`)
	require.Nil(t, r2.Err)
	assert.Equal(t, "pending_review", r2.Body.(admin.KeyPair).Secret.Status)
}

// An account owner may not give a credential a permission of the admin
// API: an API key with admin:read or admin:write is not confined to an
// account over HTTP, so that the owner would escape its confinement (read
// every account, create keys for others, disable their keys).
func TestDoConfinedCallerCannotGiveAdminPermissions(t *testing.T) {
	e := newEnv(t, envOptions{packages: testpackages.Retail(), separateReview: true})
	e.createAccount("acct_a", "GO")
	ann := owner("ann", "acct_a")
	r := do(t, e.handler, ann, "POST", "/keys", `{"account":"acct_a","mode":"test","kind":"sk"}`)
	require.Nil(t, r.Err)
	mine := r.Body.(admin.KeyPair).Secret.ID
	// An operator gives a key of acct_a an admin permission.
	adminKey := do(t, e.handler, operator("olga"), "POST", "/keys",
		`{"account":"acct_a","mode":"test","kind":"sk","permissions":["admin:read"]}`)
	require.Nil(t, adminKey.Err)
	theirs := adminKey.Body.(admin.KeyPair).Secret.ID

	for _, c := range []struct{ name, method, path, body string }{
		{"create with admin:write", "POST", "/keys", `{"account":"acct_a","mode":"test","kind":"sk","permissions":["admin:write"]}`},
		{"create with admin:read", "POST", "/keys", `{"account":"acct_a","mode":"test","kind":"sk","permissions":["admin:read"]}`},
		{"create with admin:*", "POST", "/keys", `{"account":"acct_a","mode":"test","kind":"sk","permissions":["admin:*"]}`},
		{"HMAC credential with admin:write", "POST", "/hmac-keys", `{"account":"acct_a","mode":"test","permissions":["admin:write"]}`},
		{"update to admin:write", "PATCH", "/keys/" + mine, `{"permissions":["admin:write"]}`},
		{"rotate a key holding admin:read", "POST", "/keys/" + theirs + "/rotate", `{}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := do(t, e.handler, ann, c.method, c.path, c.body)
			require.NotNil(t, r.Err, "status %d", r.Status)
			assert.Equal(t, http.StatusForbidden, r.Status)
			assert.Equal(t, admin.CodeInsufficientScope, r.Err.Code)
		})
	}
	// An operator still may.
	r = do(t, e.handler, operator("olga"), "POST", "/keys", `{"account":"acct_a","mode":"test","kind":"sk","permissions":["admin:write"]}`)
	assert.Nil(t, r.Err)
}

// FuzzDo makes arbitrary calls through Do for a caller confined to one
// account: never a panic or a 5xx, and never another account's data.
func FuzzDo(f *testing.F) {
	e := newEnv(f, envOptions{packages: testpackages.Retail()})
	e.createAccount("acct_a", "GO")
	e.createAccount("acct_b", "GO")
	theirs := e.createKeys(`{"account":"acct_b","mode":"test","name":"theirs"}`)
	ann := owner("ann", "acct_a")
	theirRule, err := e.ipRules.Create(context.Background(), iprule.Rule{ID: iprule.NewID(), Account: "acct_b", Action: iprule.Deny, CIDR: "192.0.2.0/24"})
	require.NoError(f, err)
	for _, s := range []struct{ method, path, body string }{
		{"GET", "/ip-rules?account=acct_b", ""},
		{"DELETE", "/ip-rules/" + theirRule.ID, ""},
		{"POST", "/ip-rules", `{"account":"acct_b","action":"allow","cidr":"10.0.0.0/8"}`},
		{"GET", "/keys", ""},
		{"GET", "/keys?account=acct_b", ""},
		{"GET", "/keys/" + theirs.Secret.ID, ""},
		{"POST", "/keys/" + theirs.Secret.ID + "/rotate", `{"grace_seconds":0}`},
		{"PATCH", "/keys/" + theirs.Secret.ID, `{"name":"x"}`},
		{"POST", "/keys", `{"account":"acct_b","mode":"test"}`},
		{"POST", "/keys", `{"account":"acct_a","mode":"live","permissions":["admin:write"]}`},
		{"GET", "/accounts?q=acct", ""},
		{"GET", "/accounts/acct_b", ""},
		{"GET", "/audit?account=acct_b&key_id=" + theirs.Secret.ID, ""},
		{"GET", "/hmac-keys?account=acct_b", ""},
		{"POST", "/tokens/revoke", `{"subject":"acct_b"}`},
		{"GET", "/%2e%2e/keys", ""},
		{"GET", "//keys", ""},
		{"GET", "/keys?account=acct_a&account=acct_b", ""},
	} {
		f.Add(s.method, s.path, s.body)
	}
	f.Fuzz(func(t *testing.T, method, path, body string) {
		r := e.handler.Do(context.Background(), ann, admin.Request{Method: method, Path: path, Body: []byte(body)})
		if r.Status >= 500 {
			t.Fatalf("%s %q %q: status %d: %+v", method, path, body, r.Status, r.Err)
		}
		out := string(r.Raw)
		if r.Body != nil {
			b, err := json.Marshal(r.Body)
			if err != nil {
				t.Fatal(err)
			}
			out = string(b)
		}
		if strings.Contains(out, "acct_b") || strings.Contains(out, theirs.Secret.ID) || strings.Contains(out, theirRule.ID) {
			t.Fatalf("%s %q %q: another account's data: %s", method, path, body, out)
		}
	})
}
