package access_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/keygate/keygate/access"
)

func TestIncludes(t *testing.T) {
	for _, tc := range []struct {
		granted, requested string
		want               bool
	}{
		// Concrete requests: as Covers.
		{"products:read", "products:read", true},
		{"products:read", "products:write", false},
		{"products:read", "products:read:sku_1", true},
		{"products:*", "products:write", true},
		{"*:*", "analytics:export", true},
		{"stores:read:store_42", "stores:read:store_42", true},
		{"stores:read:store_42", "stores:read", false},
		// A requested wildcard needs a granted wildcard in the same part.
		{"*:*", "*:*", true},
		{"*:*", "orders:*", true},
		{"*:*", "*:read", true},
		{"*:*", "*:*:*", true},
		{"*:*:*", "*:*", true},
		{"orders:*", "orders:*", true},
		{"orders:*", "*:*", false},
		{"orders:*", "*:read", false},
		{"orders:*", "orders:*:store_1", true},
		{"orders:read", "orders:*", false},
		{"orders:read", "*:read", false},
		{"*:read", "*:read", true},
		{"*:read", "orders:*", false},
		{"*:read", "*:*", false},
		{"admin:*", "*:*", false},
		{"admin:*", "admin:*", true},
		{"admin:*", "admin:review", true},
		// Entities: no entity and the wildcard entity both mean every
		// entity, on either side.
		{"stores:read", "stores:read:*", true},
		{"stores:read:*", "stores:read", true},
		{"stores:read:store_42", "stores:read:*", false},
		{"stores:*:store_42", "stores:*:store_42", true},
		{"stores:*:store_42", "stores:*", false},
		{"stores:*:store_42", "stores:read:store_42", true},
		{"stores:read:store_42", "stores:*:store_42", false},
		{"*:*:store_42", "*:*:store_42", true},
		{"*:*:store_42", "*:*:store_43", false},
	} {
		t.Run(tc.granted+"/"+tc.requested, func(t *testing.T) {
			g := access.MustParsePermission(tc.granted)
			r := access.MustParsePermission(tc.requested)
			assert.Equal(t, tc.want, g.Includes(r))
			grants := access.MustNewGrants([]string{"unrelated:read", tc.granted}, nil, nil)
			assert.Equal(t, tc.want, grants.Includes(r))
		})
	}
}

func TestIncludesEmptyParts(t *testing.T) {
	all := access.MustParsePermission("*:*:*")
	for _, r := range []access.Permission{{}, {Module: "products"}, {Action: "read"}, {Entity: "x"}} {
		assert.False(t, all.Includes(r), "%+v", r)
	}
	req := access.Permission{Module: "products", Action: "read"}
	assert.False(t, access.Permission{}.Includes(req))
	assert.False(t, access.Permission{Module: "products"}.Includes(req))
	assert.False(t, access.Grants{}.Includes(req), "the zero Grants include nothing")
}

func TestIncludesWithRoles(t *testing.T) {
	g := access.MustNewGrants(nil, []string{"cashier"}, access.Roles{"cashier": {"orders:*"}})
	assert.True(t, g.Includes(access.MustParsePermission("orders:*")))
	assert.True(t, g.Includes(access.MustParsePermission("orders:refund")))
	assert.False(t, g.Includes(access.MustParsePermission("*:*")))
}

// FuzzIncludes: on a concrete requested permission Includes agrees with
// Covers; every parsed permission includes itself; and Includes is sound:
// whatever a permission included covers, the granting one covers too.
func FuzzIncludes(f *testing.F) {
	for _, s := range [][3]string{
		{"*:*", "orders:*", "orders:read"},
		{"orders:*", "*:*", "offers:read"},
		{"stores:read:store_42", "stores:read:*", "stores:read:store_43"},
		{"stores:read", "stores:read:*", "stores:read:x"},
		{"*:read", "*:read:e", "a:read:e"},
		{"a:b", "a:b", "a:b:c"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, gs, rs, cs string) {
		g, err1 := access.ParsePermission(gs)
		r, err2 := access.ParsePermission(rs)
		if err1 != nil || err2 != nil {
			return
		}
		if !g.Includes(g) || !r.Includes(r) {
			t.Fatalf("%q or %q does not include itself", gs, rs)
		}
		if r.Concrete() && g.Includes(r) != g.Covers(r) {
			t.Fatalf("Includes(%q, %q) = %v, Covers = %v", gs, rs, g.Includes(r), g.Covers(r))
		}
		grants := access.MustNewGrants([]string{gs}, nil, nil)
		if grants.Includes(r) != g.Includes(r) {
			t.Fatalf("Grants.Includes(%q, %q) disagrees with Permission.Includes", gs, rs)
		}
		// ListIncludes reads a stored list as NewGrants would (no roles).
		list := []string{gs, cs}
		if listGrants, err := access.NewGrants(list, nil, nil); err == nil && access.ListIncludes(list, rs) != listGrants.Includes(r) {
			t.Fatalf("ListIncludes(%q, %q) = %v, Grants.Includes = %v", list, rs, access.ListIncludes(list, rs), listGrants.Includes(r))
		}
		c, err := access.ParsePermission(cs)
		if err != nil {
			return
		}
		if g.Includes(r) && r.Covers(c) && !g.Covers(c) {
			t.Fatalf("%q includes %q, which covers %q, but %q does not cover it", gs, rs, cs, gs)
		}
		if g.Includes(r) && r.Includes(c) && !g.Includes(c) {
			t.Fatalf("Includes is not transitive: %q, %q, %q", gs, rs, cs)
		}
	})
}
