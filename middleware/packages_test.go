package middleware_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/access"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/internal/testpackages"
	"github.com/keygate/keygate/middleware"
)

// packagesMux is demoMux with an admin route and whoami.
func packagesMux(auth *middleware.Authenticator) *http.ServeMux {
	return demoMux(auth,
		middleware.Route{Pattern: "GET /admin", Rule: middleware.Rule{Permission: "admin:read"}, Handler: principalJSON},
		middleware.Route{Pattern: "GET /whoami", Handler: principalJSON},
		// A permission without a package: only the grants bound it.
		middleware.Route{Pattern: "GET /v1/exports", Rule: middleware.Rule{Permission: "analytics:export"}, Handler: principalJSON},
	)
}

// Section 7: the package decides what a key without permissions may call,
// and bounds what a key with permissions may call.
func TestPackagesBoundPermissions(t *testing.T) {
	packages := testpackages.Retail()
	m := newKeyManager(t)
	mux := packagesMux(newAccessAuth(t, m, middleware.AccessConfig{Packages: packages}))
	key := func(pkg string, perms ...string) string {
		return mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{Package: pkg, Permissions: perms}})
	}
	code := func(key, method, path string) int {
		return serve(mux, areq{method: method, path: path, key: key}).Code
	}
	for _, tc := range []struct {
		name   string
		key    string
		path   string
		status int
	}{
		{"standard PRIME key: analytics", key("PRIME"), "/v1/analytics/export", 200},
		{"standard PRIME key: stores", key("PRIME"), "/v1/stores", 200},
		{"standard PRIME key: never admin", key("PRIME"), "/admin", 403},
		{"standard GO key: analytics", key("GO"), "/v1/analytics/export", 403},
		{"standard GO key: stores", key("GO"), "/v1/stores", 200},
		{"standard key of an unknown package", key("PLATINUM"), "/v1/stores", 403},
		{"standard key without package", key(""), "/v1/stores", 403},
		{"restricted: outside its GO package", key("GO", "analytics:export"), "/v1/analytics/export", 403},
		{"restricted: outside its GO package, route without package", key("GO", "analytics:export"), "/v1/exports", 403},
		{"restricted: inside its PRIME package, route without package", key("PRIME", "analytics:export"), "/v1/exports", 200},
		{"operator on GO: route without package", key("GO", "*:*"), "/v1/exports", 403},
		{"restricted: inside its PRIME package", key("PRIME", "analytics:export"), "/v1/analytics/export", 200},
		{"restricted: only what it names", key("PRIME", "analytics:export"), "/v1/stores", 403},
		{"operator on PRIME: analytics", key("PRIME", "*:*"), "/v1/analytics/export", 200},
		{"operator on PRIME: admin", key("PRIME", "*:*"), "/admin", 200},
		{"operator on GO: analytics", key("GO", "*:*"), "/v1/analytics/export", 403},
		{"operator on GO: admin", key("GO", "*:*"), "/admin", 200},
		{"admin key without package", key("", "admin:read"), "/admin", 200},
		{"admin key without package: no product", key("", "admin:read"), "/v1/stores", 403},
		{"malformed list is restricted, not standard", key("PRIME", "Stores:read"), "/v1/stores", 403},
	} {
		method := "GET"
		assert.Equal(t, tc.status, code(tc.key, method, tc.path), tc.name)
	}
}

func TestPackageChangeRebuildsTheCache(t *testing.T) {
	m := newKeyManager(t)
	mux := packagesMux(newAccessAuth(t, m, middleware.AccessConfig{Packages: testpackages.Retail()}))
	k, rec, err := m.Create(context.Background(), apikey.CreateParams{Grant: keygate.Grant{Account: "acct_1", Mode: "test", Package: "GO"}, Kind: "sk"})
	require.NoError(t, err)
	r := areq{path: "/v1/analytics/export", key: k.Reveal()}
	assert.Equal(t, 403, serve(mux, r).Code)
	pkg := testpackages.Prime
	_, err = m.Update(context.Background(), rec.ID, apikey.Changes{Package: &pkg})
	require.NoError(t, err)
	assert.Equal(t, 200, serve(mux, r).Code, "the key's new package applies on the next request")
	p := principalOf(t, serve(mux, areq{path: "/whoami", key: k.Reveal()}))
	assert.Equal(t, testpackages.Retail().Permissions(testpackages.Prime), p.Permissions)
	pkg = "GO"
	_, err = m.Update(context.Background(), rec.ID, apikey.Changes{Package: &pkg})
	require.NoError(t, err)
	assert.Equal(t, 403, serve(mux, r).Code, "and back")
}

func TestPrincipalShowsEffectivePermissions(t *testing.T) {
	packages := testpackages.Retail()
	m := newKeyManager(t)
	roles := access.Roles{"reporter": {"analytics:export", "reports:read"}}
	mux := packagesMux(newAccessAuth(t, m, middleware.AccessConfig{Packages: packages, Roles: roles}))
	whoami := func(pkg string, perms ...string) []string {
		return principalOf(t, serve(mux, areq{path: "/whoami", key: mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{Package: pkg, Permissions: perms}})})).Permissions
	}
	assert.Equal(t, packages.Permissions("GO"), whoami("GO"), "standard: the package's")
	assert.Equal(t, []string{"offers:write"}, whoami("GO", "offers:write", "analytics:export"), "restricted: the intersection")
	assert.Equal(t, append(packages.Permissions("GO"), "*:*"), whoami("GO", "*:*"), "operator: the package and what no package includes")
	assert.Equal(t, []string{"analytics:export", "reports:read"}, whoami("PRIME", "@reporter"), "roles expanded")
	assert.Equal(t, []string{"reports:read"}, whoami("GO", "@reporter"))
	assert.Nil(t, whoami("PRIME", "Bad:perm"), "a malformed list holds nothing")
}

func TestWithoutPackagesExplicitGrantsOnly(t *testing.T) {
	m := newKeyManager(t)
	// No Packages: rules without a Package.
	auth := newAccessAuth(t, m, middleware.AccessConfig{})
	mux := http.NewServeMux()
	auth.Mount(mux, []middleware.Route{
		{Pattern: "GET /v1/analytics/export", Rule: middleware.Rule{Permission: "analytics:export"}, Handler: principalJSON},
		{Pattern: "GET /admin", Rule: middleware.Rule{Permission: "admin:read"}, Handler: principalJSON},
	})
	standard := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{Package: "PRIME"}})
	assert.Equal(t, 403, serve(mux, areq{path: "/v1/analytics/export", key: standard}).Code)
	assert.Equal(t, 403, serve(mux, areq{path: "/admin", key: standard}).Code)
	restricted := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{Package: "GO", Permissions: []string{"analytics:export", "admin:read"}}})
	assert.Equal(t, 200, serve(mux, areq{path: "/v1/analytics/export", key: restricted}).Code)
	assert.Equal(t, 200, serve(mux, areq{path: "/admin", key: restricted}).Code)
}

// A package that grants the "*" module still never gives a standard key an
// admin permission.
func TestWildcardPackageNeverGrantsAdmin(t *testing.T) {
	packages, err := access.NewPackages([]access.Package{{Name: "free", Permissions: []string{"stores:read"}}, {Name: "enterprise", Permissions: []string{"*:*"}}})
	require.NoError(t, err)
	m := newKeyManager(t)
	mux := http.NewServeMux()
	newAccessAuth(t, m, middleware.AccessConfig{Packages: packages}).Mount(mux, []middleware.Route{
		{Pattern: "GET /v1/anything", Rule: middleware.Rule{Permission: "anything:read"}, Handler: principalJSON},
		{Pattern: "GET /admin", Rule: middleware.Rule{Permission: "admin:read"}, Handler: principalJSON},
	})
	standard := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{Package: "enterprise"}})
	assert.Equal(t, 200, serve(mux, areq{path: "/v1/anything", key: standard}).Code)
	assert.Equal(t, 403, serve(mux, areq{path: "/admin", key: standard}).Code)
	operator := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{Package: "enterprise", Permissions: []string{"*:*"}}})
	assert.Equal(t, 200, serve(mux, areq{path: "/admin", key: operator}).Code)
}

// The effective list is shared by the requests of a credential: a handler
// that writes into its Principal's Permissions changes neither what the
// credential holds nor what the next request shows.
func TestEffectivePermissionsScribbled(t *testing.T) {
	packages := testpackages.Retail()
	m := newKeyManager(t)
	auth := newAccessAuth(t, m, middleware.AccessConfig{Packages: packages})
	mux := packagesMux(auth)
	mux.Handle("GET /scribble", auth.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := keygate.FromContext(r.Context())
		p.Permissions[0] = "admin:read"
	})))
	key := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{Package: "GO"}})
	serve(mux, areq{path: "/scribble", key: key})
	assert.Equal(t, packages.Permissions("GO"), principalOf(t, serve(mux, areq{path: "/whoami", key: key})).Permissions)
	serve(mux, areq{path: "/scribble", key: key})
	assert.Equal(t, 403, serve(mux, areq{path: "/admin", key: key}).Code)
	assert.Equal(t, packages.Permissions("GO"), principalOf(t, serve(mux, areq{path: "/whoami", key: key})).Permissions)
}

// HMAC credentials follow the same rule.
func TestPackagesBoundHMAC(t *testing.T) {
	packages := testpackages.Retail()
	signed := http.Header{"Signature-Input": {`sig=("@method");keyid="hk_1"`}, "Signature": {"sig=:AAAA:"}}
	for _, tc := range []struct {
		name   string
		pkg    string
		perms  []string
		status int
	}{
		{"standard PRIME", "PRIME", nil, 200},
		{"standard GO", "GO", nil, 403},
		{"restricted GO", "GO", []string{"analytics:export"}, 403},
		{"restricted PRIME", "PRIME", []string{"analytics:export"}, 200},
	} {
		cred := httpsig.Active{KeyID: "hk_1", Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest, Package: tc.pkg, Permissions: tc.perms}}
		auth, err := middleware.New(middleware.Config{Signatures: stubSignatures{cred}, Access: middleware.AccessConfig{Packages: packages}})
		require.NoError(t, err)
		h := auth.Require(middleware.Rule{Permission: "analytics:export"})(principalJSON)
		rec := serve(h, areq{remote: "192.0.2.1:1", header: signed})
		assert.Equal(t, tc.status, rec.Code, tc.name)
	}
}
