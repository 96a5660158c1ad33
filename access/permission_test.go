package access_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/access"
)

func TestParsePermission(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want access.Permission
	}{
		{"products:read", access.Permission{Module: "products", Action: "read"}},
		{"offers:write", access.Permission{Module: "offers", Action: "write"}},
		{"stores:read:store_42", access.Permission{Module: "stores", Action: "read", Entity: "store_42"}},
		{"stores:read:Store-42.eu", access.Permission{Module: "stores", Action: "read", Entity: "Store-42.eu"}},
		{"click_collect-2:write", access.Permission{Module: "click_collect-2", Action: "write"}},
		{"*:*", access.Permission{Module: "*", Action: "*"}},
		{"*:*:*", access.Permission{Module: "*", Action: "*", Entity: "*"}},
		{"stores:*", access.Permission{Module: "stores", Action: "*"}},
		{"*:read", access.Permission{Module: "*", Action: "read"}},
		{"stores:read:*", access.Permission{Module: "stores", Action: "read", Entity: "*"}},
		{strings.Repeat("m", 64) + ":" + strings.Repeat("a", 64) + ":" + strings.Repeat("E", 64),
			access.Permission{Module: strings.Repeat("m", 64), Action: strings.Repeat("a", 64), Entity: strings.Repeat("E", 64)}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			p, err := access.ParsePermission(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.want, p)
			assert.Equal(t, tc.in, p.String())
		})
	}
}

func TestParsePermissionMalformed(t *testing.T) {
	for _, in := range []string{
		"",
		"products",
		"Admin:read", // case matters
		"admin:Read", // in every name part
		"PRODUCTS:READ",
		"products:",
		":read",
		":",
		"::",
		"products::store_1",
		"products:read:",
		"products:read:store_1:x", // extra colon
		"a:b:c:d",
		" products:read",
		"products :read",
		"products:read ",
		"products: read",
		"products:read:store 1",
		"products\t:read",
		"prod*:read", // partial wildcards
		"products:re*",
		"products:read:store_*",
		"**:read",
		"products:read:{entity}", // only requirements have the placeholder
		"products:read:store/1",
		"products:read:store:1",
		"produits:lire:magasin_é",
		"prodücts:read",
		"products:read\x00",
		strings.Repeat("m", 65) + ":read",
		"products:" + strings.Repeat("a", 65),
		"products:read:" + strings.Repeat("e", 65),
		strings.Repeat("x", 10000),
	} {
		t.Run(in, func(t *testing.T) {
			p, err := access.ParsePermission(in)
			require.ErrorIs(t, err, access.ErrMalformedPermission)
			assert.Zero(t, p)
			assert.Less(t, len(err.Error()), 300, "errors quote a bounded prefix")
			assert.Panics(t, func() { access.MustParsePermission(in) })
		})
	}
}

func TestCovers(t *testing.T) {
	for _, tc := range []struct {
		granted, required string
		want              bool
	}{
		{"products:read", "products:read", true},
		{"products:read", "products:write", false},
		{"products:read", "offers:read", false},
		{"products:read", "products:read:sku_1", true}, // no entity: every entity
		{"products:*", "products:write", true},
		{"products:*", "products:write:sku_1", true},
		{"products:*", "offers:write", false},
		{"*:read", "offers:read", true},
		{"*:read", "offers:write", false},
		{"*:*", "analytics:export", true},
		{"*:*", "stores:read:store_42", true},
		{"*:*:*", "stores:read", true},
		{"stores:read:*", "stores:read", true},
		{"stores:read:*", "stores:read:store_42", true},
		{"stores:read:store_42", "stores:read:store_42", true},
		{"stores:read:store_42", "stores:read:store_43", false},
		{"stores:read:store_42", "stores:read:Store_42", false}, // entities compare exactly
		{"stores:read:store_42", "stores:read", false},          // not the list of all stores
		{"stores:*:store_42", "stores:write:store_42", true},
		{"stores:*:store_42", "stores:write:store_1", false},
		{"*:*:store_42", "offers:write:store_42", true},
		{"*:*:store_42", "offers:write", false},
	} {
		t.Run(tc.granted+"/"+tc.required, func(t *testing.T) {
			g := access.MustParsePermission(tc.granted)
			r := access.MustParsePermission(tc.required)
			assert.Equal(t, tc.want, g.Covers(r))
		})
	}
}

func TestCoversRequiresConcrete(t *testing.T) {
	all := access.MustParsePermission("*:*:*")
	for _, r := range []access.Permission{
		{},
		{Module: "products"},
		{Action: "read"},
		{Module: "*", Action: "read"},
		{Module: "products", Action: "*"},
		{Module: "products", Action: "read", Entity: "*"},
	} {
		assert.False(t, r.Concrete(), "%+v", r)
		assert.False(t, all.Covers(r), "%+v", r)
		assert.False(t, r.Covers(r), "%+v", r)
	}
	// A hand-built grant with empty parts matches nothing concrete.
	req := access.Permission{Module: "products", Action: "read"}
	assert.False(t, access.Permission{}.Covers(req))
	assert.False(t, access.Permission{Module: "products"}.Covers(req))
	assert.True(t, req.Concrete())
}

var permissionSyntax = regexp.MustCompile(`^(\*|[a-z0-9_-]{1,64}):(\*|[a-z0-9_-]{1,64})(:(\*|[A-Za-z0-9_.-]{1,64}))?$`)

func FuzzParsePermission(f *testing.F) {
	for _, s := range []string{
		"products:read", "stores:read:store_42", "*:*", "*:*:*", "Admin:read",
		"a:b:c:d", "products:", ":read", "prod*:read", "stores:read:{entity}",
		"stores:read:Store.42", " x:y", "x:y\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := access.ParsePermission(s)
		if err != nil {
			if !assert.ErrorIs(t, err, access.ErrMalformedPermission) || !assert.Zero(t, p) {
				t.FailNow()
			}
			if permissionSyntax.MatchString(s) {
				t.Fatalf("refused well-formed %q: %v", s, err)
			}
			return
		}
		if !permissionSyntax.MatchString(s) {
			t.Fatalf("accepted %q", s)
		}
		if p.String() != s {
			t.Fatalf("String %q != input %q", p.String(), s)
		}
		again, err := access.ParsePermission(p.String())
		if err != nil || again != p {
			t.Fatalf("round trip of %q: %+v, %v", s, again, err)
		}
		// Every concrete permission covers itself, is covered by "*:*",
		// and a grant covers only what matches it part by part.
		if p.Concrete() {
			if !p.Covers(p) || !access.MustParsePermission("*:*").Covers(p) {
				t.Fatalf("%q not covered by itself or *:*", s)
			}
			if p.Entity != "" && (p.Covers(access.Permission{Module: p.Module, Action: p.Action})) {
				t.Fatalf("entity-scoped %q covers the entity-less permission", s)
			}
		} else if p.Covers(p) {
			t.Fatalf("non-concrete %q is required and covered", s)
		}
	})
}
