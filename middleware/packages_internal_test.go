package middleware

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/access"
	"github.com/keygate/keygate/apikey"
)

// A Principal the middleware accepted, handed back to rulesFor (as the
// admin API does to learn its caller's grants), gets the grants of its
// credential, not grants rebuilt from its effective list.
func TestRulesForAcceptedPrincipal(t *testing.T) {
	packages, err := access.NewPackages([]access.Package{{Name: "free", Permissions: []string{"stores:read"}}, {Name: "enterprise", Permissions: []string{"*:*"}}})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := apikey.NewManager(apikey.Config{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Config{APIKeys: keys, Access: AccessConfig{Packages: packages}})
	if err != nil {
		t.Fatal(err)
	}
	adminRead := access.MustParsePermission("admin:read")
	for _, tc := range []struct {
		perms []string
		admin bool
	}{
		{nil, false},            // standard: its list is ["*:*"], which as explicit grants would hold admin:read
		{[]string{"*:*"}, true}, // operator
		{[]string{"stores:read"}, false},
	} {
		k, _, err := keys.Create(context.Background(), apikey.CreateParams{Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest, Package: "enterprise", Permissions: tc.perms}, Kind: keygate.KindSecret})
		if err != nil {
			t.Fatal(err)
		}
		var got keygate.Principal
		h := a.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got, _ = keygate.FromContext(r.Context()) }))
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Authorization", "Bearer "+k.Reveal())
		h.ServeHTTP(httptest.NewRecorder(), req)
		if len(got.Permissions) == 0 {
			t.Fatalf("%v: no effective permissions", tc.perms)
		}
		kr := a.access.rulesFor(&got, &keygate.Grant{})
		if kr.grants.Allows(adminRead) != tc.admin {
			t.Errorf("%v (effective %v): Allows(admin:read) = %v", tc.perms, got.Permissions, !tc.admin)
		}
		if !slices.Equal(kr.perms, tc.perms) && !(len(kr.perms) == 0 && len(tc.perms) == 0) {
			t.Errorf("%v: the cached entry was replaced by one for %v", tc.perms, kr.perms)
		}
	}
}
