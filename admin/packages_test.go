package admin_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/internal/testpackages"
)

// fieldsOf returns the "fields" member of a validation_failed body.
func fieldsOf(t testing.TB, r response) map[string]any {
	t.Helper()
	f, _ := r.json(t)["fields"].(map[string]any)
	return f
}

func TestUnknownPackageRefused(t *testing.T) {
	e := newEnv(t, envOptions{packages: testpackages.Retail()})
	r := e.post(e.adminKey, "/accounts", `{"name":"Shop","package":"PLATINUM"}`)
	mustStatus(t, r, 400)
	assert.Equal(t, "validation_failed", errorCode(t, r))
	assert.Contains(t, fieldsOf(t, r), "package")
	assert.Contains(t, fieldsOf(t, r)["package"], "PRIME", "the message lists the packages")

	r = e.post(e.adminKey, "/accounts", `{"id":"acct_shop","name":"Shop","package":"GO"}`)
	mustStatus(t, r, 201)
	r = e.patch(e.adminKey, "/accounts/acct_shop", `{"package":"PLATINUM"}`)
	mustStatus(t, r, 400)
	assert.Contains(t, fieldsOf(t, r), "package")
	r = e.get(e.adminKey, "/accounts/acct_shop")
	mustStatus(t, r, 200)
	assert.Equal(t, "GO", r.json(t)["package"], "unchanged")
	mustStatus(t, e.patch(e.adminKey, "/accounts/acct_shop", `{"package":"PRIME"}`), 200)
	mustStatus(t, e.patch(e.adminKey, "/accounts/acct_shop", `{"package":""}`), 200)
	mustStatus(t, e.post(e.adminKey, "/accounts", `{"name":"No package"}`), 201)

	// Without Packages, any package of the right syntax, as before.
	free := newEnv(t, envOptions{})
	mustStatus(t, free.post(free.adminKey, "/accounts", `{"name":"Shop","package":"PLATINUM"}`), 201)
}

func TestEffectivePermissionsShown(t *testing.T) {
	packages := testpackages.Retail()
	e := newEnv(t, envOptions{packages: packages})
	mustStatus(t, e.post(e.adminKey, "/accounts", `{"id":"acct_go","name":"Shop","package":"GO"}`), 201)
	effective := func(r response) []string {
		t.Helper()
		var k struct {
			Effective []string `json:"effective_permissions"`
		}
		r.decode(t, &k)
		require.NotNil(t, k.Effective, "always present: %s", r.body)
		return k.Effective
	}
	secret := func(r response) response {
		t.Helper()
		mustStatus(t, r, 201)
		var pair struct {
			Secret map[string]any `json:"secret"`
		}
		r.decode(t, &pair)
		id, _ := pair.Secret["id"].(string)
		return e.get(e.adminKey, "/keys/"+id)
	}
	standard := secret(e.post(e.adminKey, "/keys", `{"account":"acct_go","mode":"test","kind":"sk"}`))
	assert.Equal(t, packages.Permissions("GO"), effective(standard), "standard: its package's")
	restricted := secret(e.post(e.adminKey, "/keys", `{"account":"acct_go","mode":"test","kind":"sk","permissions":["offers:write","analytics:export"]}`))
	assert.Equal(t, []string{"offers:write"}, effective(restricted), "restricted: bounded by its package")

	// After the account moves to PRIME, its keys show PRIME's.
	mustStatus(t, e.patch(e.adminKey, "/accounts/acct_go", `{"package":"PRIME"}`), 200)
	var id struct {
		ID string `json:"id"`
	}
	standard.decode(t, &id)
	assert.Equal(t, packages.Permissions("PRIME"), effective(e.get(e.adminKey, "/keys/"+id.ID)))
	restricted.decode(t, &id)
	assert.Equal(t, []string{"offers:write", "analytics:export"}, effective(e.get(e.adminKey, "/keys/"+id.ID)))

	// The admin key ("*:*" on the top package) holds everything its
	// package includes, then "*:*" for what no package includes.
	assert.Equal(t, append(packages.Permissions("PRIME"), "*:*"), effective(e.get(e.adminKey, "/keys/"+e.adminID)))

	// HMAC credentials likewise.
	r := e.post(e.adminKey, "/hmac-keys", `{"account":"acct_go","mode":"test","permissions":["analytics:export","reports:read"]}`)
	mustStatus(t, r, 201)
	assert.Equal(t, []string{"analytics:export", "reports:read"}, effective(r))
	r = e.post(e.adminKey, "/hmac-keys", `{"account":"acct_go","mode":"test"}`)
	mustStatus(t, r, 201)
	assert.Equal(t, packages.Permissions("PRIME"), effective(r))
}
