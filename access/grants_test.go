package access_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/access"
)

var roles = access.Roles{
	"viewer":   {"stores:read", "products:read"},
	"merchant": {"products:*", "offers:write", "stores:read:store_42"},
	"admin":    {"*:*"},
	"empty":    nil,
}

func TestRolesValidate(t *testing.T) {
	require.NoError(t, roles.Validate())
	require.NoError(t, access.Roles{}.Validate())
	for name, bad := range map[string]access.Roles{
		"upper-case name": {"Admin": {"*:*"}},
		"wildcard name":   {"*": {"*:*"}},
		"empty name":      {"": {"products:read"}},
		"spaces":          {"ad min": nil},
		"bad permission":  {"viewer": {"products:read", "Products:read"}},
	} {
		t.Run(name, func(t *testing.T) {
			assert.ErrorIs(t, bad.Validate(), access.ErrInvalidConfig)
		})
	}
	assert.ErrorIs(t, access.Roles{"viewer": {"products"}}.Validate(), access.ErrMalformedPermission)
}

func TestNewGrants(t *testing.T) {
	p := access.MustParsePermission
	g, err := access.NewGrants([]string{"chat:write", "products:read"}, []string{"viewer", "merchant", "empty"}, roles)
	require.NoError(t, err)
	assert.Equal(t, []string{"chat:write", "products:read", "stores:read", "products:*", "offers:write", "stores:read:store_42"},
		g.Permissions(), "roles expanded, duplicates dropped, order kept")
	assert.Equal(t, 6, g.Len())
	for _, tc := range []struct {
		required string
		want     bool
	}{
		{"chat:write", true},
		{"chat:read", false},
		{"products:import", true}, // products:* from merchant
		{"stores:read", true},
		{"stores:read:store_1", true}, // viewer's stores:read covers every store
		{"offers:write", true},
		{"offers:read", false},
		{"analytics:export", false},
	} {
		assert.Equal(t, tc.want, g.Allows(p(tc.required)), tc.required)
	}
	// A wildcard requirement is never allowed, even to an admin.
	admin := access.MustNewGrants(nil, []string{"admin"}, roles)
	assert.True(t, admin.Allows(p("analytics:export")))
	assert.False(t, admin.Allows(p("analytics:*")))
	assert.False(t, admin.Allows(access.Permission{}))
}

func TestNewGrantsEntityScope(t *testing.T) {
	g := access.MustNewGrants([]string{"stores:read:store_42", "stores:write:store_42"}, nil, nil)
	assert.True(t, g.Allows(access.MustParsePermission("stores:read:store_42")))
	assert.False(t, g.Allows(access.MustParsePermission("stores:read:store_43")))
	assert.False(t, g.Allows(access.MustParsePermission("stores:read")))
	assert.False(t, g.Allows(access.MustParsePermission("products:read:store_42")))
}

func TestNewGrantsDefaultDeny(t *testing.T) {
	for name, tc := range map[string]struct {
		perms, roles []string
		err          error
	}{
		"unknown role":              {roles: []string{"viewer", "owner"}, err: access.ErrUnknownRole},
		"role in the wrong case":    {roles: []string{"Admin"}, err: access.ErrUnknownRole},
		"role with spaces":          {roles: []string{" admin"}, err: access.ErrUnknownRole},
		"empty role":                {roles: []string{""}, err: access.ErrUnknownRole},
		"permission in wrong case":  {perms: []string{"Admin:read"}, err: access.ErrMalformedPermission},
		"one bad claim among good":  {perms: []string{"products:read", "products:read:"}, roles: []string{"admin"}, err: access.ErrMalformedPermission},
		"malformed wildcard":        {perms: []string{"*"}, err: access.ErrMalformedPermission},
		"placeholder as permission": {perms: []string{"stores:read:{entity}"}, err: access.ErrMalformedPermission},
	} {
		t.Run(name, func(t *testing.T) {
			g, err := access.NewGrants(tc.perms, tc.roles, roles)
			require.ErrorIs(t, err, tc.err)
			assert.Zero(t, g)
			assert.False(t, g.Allows(access.MustParsePermission("products:read")))
			assert.Panics(t, func() { access.MustNewGrants(tc.perms, tc.roles, roles) })
		})
	}
	// A role whose definition is malformed grants nothing either.
	_, err := access.NewGrants(nil, []string{"broken"}, access.Roles{"broken": {"products:read", "x"}})
	assert.ErrorIs(t, err, access.ErrMalformedPermission)
	// A role defined under a name that is not a role name is never used.
	_, err = access.NewGrants(nil, []string{"Admin"}, access.Roles{"Admin": {"*:*"}})
	assert.ErrorIs(t, err, access.ErrUnknownRole)
	// Nothing at all is valid and allows nothing.
	g, err := access.NewGrants(nil, nil, nil)
	require.NoError(t, err)
	assert.False(t, g.Allows(access.MustParsePermission("products:read")))
	assert.Empty(t, g.Permissions())
}

func TestListIncludes(t *testing.T) {
	for _, tc := range []struct {
		list []string
		p    string
		want bool
	}{
		{[]string{"orders:read"}, "orders:read", true},
		{[]string{"orders:*"}, "orders:read", true},
		{[]string{"orders:*"}, "orders:*", true},
		{[]string{"orders:read"}, "orders:*", false},
		{[]string{"*:*"}, "analytics:export", true},
		{[]string{"*:read"}, "orders:write", false},
		{[]string{"stores:read:store_1"}, "stores:read", false},
		{[]string{"stores:read"}, "stores:read:store_1", true},
		{[]string{"@cashier"}, "@cashier", true},
		{[]string{"@cashier"}, "orders:read", false},
		{[]string{"*:*"}, "@cashier", false},
		{[]string{"Bad:perm", "orders:read"}, "orders:read", true},
		{[]string{"Bad:perm"}, "orders:read", false},
		{nil, "orders:read", false},
		{[]string{"*:*"}, "not a permission", false},
	} {
		if got := access.ListIncludes(tc.list, tc.p); got != tc.want {
			t.Errorf("ListIncludes(%q, %q) = %v, want %v", tc.list, tc.p, got, tc.want)
		}
	}
}
