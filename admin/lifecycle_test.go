package admin_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/admin"
)

// TestKeyLifecycle: create a pair → use it → rotate with a grace period
// (the old key works until the grace ends, on the injected clock) →
// rotate with none (the old key fails at once) → revoke (the very next
// request fails).
func TestKeyLifecycle(t *testing.T) {
	e := newEnv(t, envOptions{})
	acct := e.createAccount("acct_shop", "GO")
	assert.Equal(t, "GO", acct.Package)
	assert.Equal(t, "Shop acct_shop", acct.Name)

	pair := e.createKeys(`{"account":"acct_shop","mode":"test","name":"POS 1","stores":["store_1"],"permissions":["products:read"],"roles":["viewer","cashier"]}`)
	require.NotNil(t, pair.Publishable)
	require.NotNil(t, pair.Secret)
	sk, pk := pair.Secret, pair.Publishable
	for _, k := range []*admin.Key{sk, pk} {
		assert.Equal(t, "acct_shop", k.Account)
		assert.Equal(t, "test", k.Mode)
		assert.Equal(t, "active", k.Status)
		assert.Equal(t, "GO", k.Package, "the keys get the account's package")
		assert.Equal(t, e.adminID, k.CreatedBy)
		assert.Equal(t, []string{"products:read", "orders:read", "orders:write"}, k.Permissions, "roles expanded, duplicates dropped")
		assert.Equal(t, "bk_test_"+k.Kind+"_", k.Prefix)
		assert.True(t, strings.HasPrefix(k.Key, k.Prefix))
		assert.Equal(t, k.Key[len(k.Key)-4:], k.Last4)
		assert.Equal(t, e.clock.Now(), k.Created)
	}
	assert.Equal(t, "sk", sk.Kind)
	assert.Equal(t, "pk", pk.Kind)

	// Use.
	assert.Equal(t, http.StatusOK, e.whoami(sk.Key))
	assert.Equal(t, http.StatusOK, e.whoami(pk.Key))

	// Get and list show no secret.
	r := e.get(e.readKey, "/keys/"+sk.ID)
	mustStatus(t, r, http.StatusOK)
	var got admin.Key
	r.decode(t, &got)
	assert.Empty(t, got.Key)
	assert.Equal(t, sk.ID, got.ID)

	// Rotate with a one-hour grace period.
	r = e.post(e.adminKey, "/keys/"+sk.ID+"/rotate", `{"grace_seconds":3600}`)
	mustStatus(t, r, http.StatusOK)
	var rot1 admin.Key
	r.decode(t, &rot1)
	assert.Equal(t, sk.ID, rot1.ID, "a rotation keeps the key ID")
	assert.NotEqual(t, sk.Key, rot1.Key)
	assert.Equal(t, rot1.Key[len(rot1.Key)-4:], rot1.Last4)
	assert.Equal(t, e.clock.Now(), rot1.RotatedAt)
	assert.Equal(t, http.StatusOK, e.whoami(sk.Key), "the old key works during the grace period")
	assert.Equal(t, http.StatusOK, e.whoami(rot1.Key))
	e.clock.Advance(3599 * time.Second)
	assert.Equal(t, http.StatusOK, e.whoami(sk.Key), "still within the grace period")
	e.clock.Advance(time.Second)
	assert.Equal(t, http.StatusUnauthorized, e.whoami(sk.Key), "the grace period is over")
	assert.Equal(t, http.StatusOK, e.whoami(rot1.Key))

	// Rotate with no grace: the old key fails at once.
	r = e.post(e.adminKey, "/keys/"+sk.ID+"/rotate", `{"grace_seconds":0}`)
	mustStatus(t, r, http.StatusOK)
	var rot2 admin.Key
	r.decode(t, &rot2)
	assert.Equal(t, http.StatusUnauthorized, e.whoami(rot1.Key))
	assert.Equal(t, http.StatusOK, e.whoami(rot2.Key))
	// An empty body means no grace too.
	r = e.send(req{method: "POST", path: "/keys/" + sk.ID + "/rotate", key: e.adminKey})
	mustStatus(t, r, http.StatusOK)
	var rot3 admin.Key
	r.decode(t, &rot3)
	assert.Equal(t, http.StatusUnauthorized, e.whoami(rot2.Key))

	// Disable and enable.
	r = e.post(e.adminKey, "/keys/"+pk.ID+"/disable", "")
	mustStatus(t, r, http.StatusOK)
	assert.True(t, r.json(t)["disabled"].(bool))
	assert.Equal(t, http.StatusUnauthorized, e.whoami(pk.Key))
	r = e.post(e.adminKey, "/keys/"+pk.ID+"/enable", "{}")
	mustStatus(t, r, http.StatusOK)
	assert.False(t, r.json(t)["disabled"].(bool))
	assert.Equal(t, http.StatusOK, e.whoami(pk.Key))

	// Update metadata; then remove the expiry again.
	exp := e.clock.Now().Add(48 * time.Hour).Format(time.RFC3339)
	r = e.patch(e.adminKey, "/keys/"+rot3.ID, `{"name":"POS 2","stores":["store_1","store_2"],"allowed_ips":["127.0.0.0/8","::1"],"expires":"`+exp+`"}`)
	mustStatus(t, r, http.StatusOK)
	var upd admin.Key
	r.decode(t, &upd)
	assert.Equal(t, "POS 2", upd.Name)
	assert.Equal(t, []string{"store_1", "store_2"}, upd.Stores)
	assert.Equal(t, exp, upd.Expires.Format(time.RFC3339))
	assert.Equal(t, http.StatusOK, e.whoami(rot3.Key))
	r = e.patch(e.adminKey, "/keys/"+rot3.ID, `{"expires":null}`)
	mustStatus(t, r, http.StatusOK)
	upd = admin.Key{}
	r.decode(t, &upd)
	assert.True(t, upd.Expires.IsZero())
	assert.Equal(t, "POS 2", upd.Name, "absent members are left as they are")

	// Revoke: the very next request fails.
	r = e.post(e.adminKey, "/keys/"+sk.ID+"/revoke", "")
	mustStatus(t, r, http.StatusOK)
	assert.Equal(t, "revoked", r.json(t)["status"])
	assert.Equal(t, http.StatusUnauthorized, e.whoami(rot3.Key))
	// Revoking again is not an error; everything else on it is a conflict.
	mustStatus(t, e.post(e.adminKey, "/keys/"+sk.ID+"/revoke", "{}"), http.StatusOK)
	for _, path := range []string{"/rotate", "/disable", "/enable", "/approve"} {
		r := e.post(e.adminKey, "/keys/"+sk.ID+path, "")
		mustStatus(t, r, http.StatusConflict)
		assert.Equal(t, admin.CodeConflict, errorCode(t, r), path)
	}
	r = e.patch(e.adminKey, "/keys/"+sk.ID, `{"name":"x"}`)
	mustStatus(t, r, http.StatusConflict)
	r = e.patch(e.adminKey, "/keys/"+sk.ID, `{}`)
	mustStatus(t, r, http.StatusConflict)

	// The account's package reaches its keys.
	r = e.patch(e.adminKey, "/accounts/acct_shop", `{"package":"PRIME","name":"Shop, renamed"}`)
	mustStatus(t, r, http.StatusOK)
	r = e.get(e.adminKey, "/keys/"+pk.ID)
	assert.Equal(t, "PRIME", r.json(t)["package"])
	r = e.get(e.adminKey, "/keys/"+sk.ID)
	assert.Equal(t, "GO", r.json(t)["package"], "a revoked key is left alone")
	r = e.get(e.adminKey, "/accounts/acct_shop")
	assert.Equal(t, "Shop, renamed", r.json(t)["name"])

	e.checkNoSecrets(t)
	e.checkDocumented(t)
}

// TestLiveKeyReview: a live key is refused until approved; with
// SeparateReview its creator cannot approve it.
func TestLiveKeyReview(t *testing.T) {
	e := newEnv(t, envOptions{separateReview: true})
	e.createAccount("acct_live", "GO")
	pair := e.createKeys(`{"account":"acct_live","mode":"live","kind":"sk"}`)
	require.Nil(t, pair.Publishable, "kind sk creates one key")
	sk := pair.Secret
	assert.Equal(t, "pending_review", sk.Status)
	assert.Equal(t, "bk_live_sk_", sk.Prefix)
	assert.Equal(t, http.StatusUnauthorized, e.whoami(sk.Key), "pending review")

	// The creator may not approve it.
	r := e.post(e.adminKey, "/keys/"+sk.ID+"/approve", "")
	mustStatus(t, r, http.StatusForbidden)
	assert.Equal(t, admin.CodeSeparationOfDuties, errorCode(t, r))
	// A key without admin:review may not either.
	r = e.post(e.writeKey, "/keys/"+sk.ID+"/approve", "")
	mustStatus(t, r, http.StatusForbidden)
	assert.Equal(t, "insufficient_scope", errorCode(t, r))
	assert.Equal(t, http.StatusUnauthorized, e.whoami(sk.Key))

	// The reviewer may.
	r = e.post(e.reviewKey, "/keys/"+sk.ID+"/approve", "")
	mustStatus(t, r, http.StatusOK)
	var k admin.Key
	r.decode(t, &k)
	assert.Equal(t, "active", k.Status)
	assert.Equal(t, e.reviewID, k.ApprovedBy)
	assert.Equal(t, e.clock.Now(), k.ApprovedAt)
	assert.Equal(t, http.StatusOK, e.whoami(sk.Key))

	// Approving an active key is a conflict.
	r = e.post(e.reviewKey, "/keys/"+sk.ID+"/approve", "")
	mustStatus(t, r, http.StatusConflict)
	assert.Equal(t, admin.CodeConflict, errorCode(t, r))

	// Without SeparateReview the creator may approve its own key.
	e2 := newEnv(t, envOptions{})
	e2.createAccount("acct_live", "GO")
	own := e2.createKeys(`{"account":"acct_live","mode":"live"}`)
	for _, k := range []*admin.Key{own.Publishable, own.Secret} {
		assert.Equal(t, "pending_review", k.Status)
		mustStatus(t, e2.post(e2.adminKey, "/keys/"+k.ID+"/approve", ""), http.StatusOK)
		assert.Equal(t, http.StatusOK, e2.whoami(k.Key))
	}
	e.checkNoSecrets(t)
	e.checkDocumented(t)
}

// TestHMACKeys: create (secret shown once), get, list, rotate, revoke.
func TestHMACKeys(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.createAccount("acct_h", "GROW")
	r := e.post(e.adminKey, "/hmac-keys", `{"account":"acct_h","mode":"live","name":"webhook","permissions":["orders:read"],"roles":["viewer"]}`)
	mustStatus(t, r, http.StatusCreated)
	var c admin.HMACKey
	r.decode(t, &c)
	assert.True(t, strings.HasPrefix(c.ID, "hk_"))
	assert.Len(t, c.Secret, 88, "standard base64 of 64 bytes")
	assert.Equal(t, "GROW", c.Package)
	assert.Equal(t, "active", c.Status, "HMAC credentials have no review")
	assert.Equal(t, []string{"orders:read", "products:read"}, c.Permissions)

	r = e.get(e.readKey, "/hmac-keys/"+c.ID)
	mustStatus(t, r, http.StatusOK)
	assert.NotContains(t, string(r.body), `"secret"`)

	r = e.post(e.adminKey, "/hmac-keys/"+c.ID+"/rotate", `{"grace_seconds":60}`)
	mustStatus(t, r, http.StatusOK)
	var rot admin.HMACKey
	r.decode(t, &rot)
	assert.NotEqual(t, c.Secret, rot.Secret)
	assert.Len(t, rot.Secret, 88)

	r = e.get(e.readKey, "/hmac-keys?account=acct_h&mode=live")
	mustStatus(t, r, http.StatusOK)
	var list admin.List[admin.HMACKey]
	r.decode(t, &list)
	require.Len(t, list.Data, 1)
	assert.Equal(t, c.ID, list.Data[0].ID)
	assert.Empty(t, list.Data[0].Secret)

	r = e.post(e.adminKey, "/hmac-keys/"+c.ID+"/revoke", "")
	mustStatus(t, r, http.StatusOK)
	assert.Equal(t, "revoked", r.json(t)["status"])
	r = e.post(e.adminKey, "/hmac-keys/"+c.ID+"/rotate", "")
	mustStatus(t, r, http.StatusConflict)
	mustStatus(t, e.get(e.readKey, "/hmac-keys/hk_0000000000000000"), http.StatusNotFound)
	e.checkNoSecrets(t)
	e.checkDocumented(t)
}

// TestTokenRevocation: by jti, by subject and by refresh-token family.
func TestTokenRevocation(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.createAccount("acct_t", "GO")
	sk := e.createKeys(`{"account":"acct_t","mode":"test","kind":"sk"}`).Secret
	issue := func(sub string) (string, string) {
		tok, claims, err := e.issuer.Issue(t.Context(), jwtClaims(sk.ID, sub, "acct_t"))
		require.NoError(t, err)
		return tok, claims.ID
	}
	tokA, jtiA := issue("user_1")
	tokB, _ := issue("user_1")
	tokC, _ := issue("user_2")
	for _, tok := range []string{tokA, tokB, tokC} {
		require.Equal(t, http.StatusOK, e.whoami(tok))
	}

	r := e.post(e.adminKey, "/tokens/revoke", `{"jti":"`+jtiA+`"}`)
	mustStatus(t, r, http.StatusOK)
	assert.Equal(t, map[string]any{"revoked": "jti", "id": jtiA}, r.json(t))
	assert.Equal(t, http.StatusUnauthorized, e.whoami(tokA))
	assert.Equal(t, http.StatusOK, e.whoami(tokB))

	e.clock.Advance(time.Second) // iat has a one-second resolution
	r = e.post(e.adminKey, "/tokens/revoke", `{"subject":"user_1"}`)
	mustStatus(t, r, http.StatusOK)
	assert.Equal(t, http.StatusUnauthorized, e.whoami(tokB))
	assert.Equal(t, http.StatusOK, e.whoami(tokC))

	_, rec, err := e.refresh.Issue(t.Context(), refreshGrant(sk.ID, "user_2", "acct_t"))
	require.NoError(t, err)
	r = e.post(e.adminKey, "/tokens/revoke", `{"family":"`+rec.Family+`"}`)
	mustStatus(t, r, http.StatusOK)
	assert.Equal(t, "family", r.json(t)["revoked"])

	// Not configured: 404.
	e2 := newEnv(t, envOptions{noOptional: true})
	for _, body := range []string{`{"jti":"x"}`, `{"subject":"x"}`, `{"family":"ABC"}`} {
		r := e2.post(e2.adminKey, "/tokens/revoke", body)
		mustStatus(t, r, http.StatusNotFound)
		assert.Equal(t, admin.CodeNotFound, errorCode(t, r))
	}
	for _, path := range []string{"/hmac-keys", "/audit"} {
		mustStatus(t, e2.get(e2.adminKey, path), http.StatusNotFound)
	}
	e.checkDocumented(t)
	e2.checkDocumented(t)
}
