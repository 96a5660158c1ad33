package access_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/access"
	"github.com/keygate/keygate/internal/testpackages"
)

var retailNames = []string{"DISCOVER", "ASSIST", "GO", "GROW", "PRIME"}

func TestNewPackagesRefuses(t *testing.T) {
	for name, tc := range map[string]struct {
		packages []access.Package
		err      error
	}{
		"none":           {nil, access.ErrInvalidConfig},
		"empty name":     {[]access.Package{{Name: ""}}, access.ErrInvalidConfig},
		"name with dot":  {[]access.Package{{Name: "GO.1"}}, access.ErrInvalidConfig},
		"name too long":  {[]access.Package{{Name: string(make([]byte, 65))}}, access.ErrInvalidConfig},
		"duplicate":      {[]access.Package{{Name: "GO"}, {Name: "GROW"}, {Name: "GO"}}, access.ErrInvalidConfig},
		"bad permission": {[]access.Package{{Name: "GO", Permissions: []string{"offers:Write"}}}, access.ErrMalformedPermission},
	} {
		t.Run(name, func(t *testing.T) {
			packages, err := access.NewPackages(tc.packages)
			require.ErrorIs(t, err, tc.err)
			assert.Nil(t, packages)
		})
	}
}

func TestPackagesCumulative(t *testing.T) {
	packages, err := access.NewPackages([]access.Package{
		{Name: "free", Permissions: []string{"products:read"}},
		{Name: "pro", Permissions: []string{"products:write", "products:read"}},
		{Name: "pro-plus"}, // same permissions, another rate limit
		{Name: "Enterprise", Permissions: []string{"*:*"}},
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"free", "pro", "pro-plus", "Enterprise"}, packages.Names())
	assert.Equal(t, []string{"products:read", "products:write"}, packages.Permissions("pro-plus"))
	assert.Nil(t, packages.Permissions("gold"))
	w := access.MustParsePermission("products:write")
	assert.False(t, packages.Allows("free", w))
	assert.True(t, packages.Allows("pro", w))
	assert.True(t, packages.Allows("pro-plus", w))
	assert.True(t, packages.Allows("Enterprise", access.MustParsePermission("anything:else")))
	assert.False(t, packages.Allows("enterprise", w), "names compare exactly")
	assert.True(t, packages.Reaches("pro-plus", "pro"))
	assert.False(t, packages.Reaches("pro", "pro-plus"))
	assert.False(t, packages.Reaches("gold", "free"), "unknown package")
	assert.False(t, packages.Reaches("Enterprise", "gold"), "unknown minimum")
	assert.False(t, packages.Reaches("", ""))
	min, ok := packages.MinPackage(w)
	assert.True(t, ok)
	assert.Equal(t, "pro", min)
	min, ok = packages.MinPackage(access.MustParsePermission("x:y"))
	assert.True(t, ok)
	assert.Equal(t, "Enterprise", min)

	// Names returns a copy.
	packages.Names()[0] = "changed"
	assert.Equal(t, "free", packages.Names()[0])
}

func TestNilPackages(t *testing.T) {
	var packages *access.Packages
	assert.Nil(t, packages.Names())
	assert.False(t, packages.Has("GO"))
	assert.False(t, packages.Reaches("GO", "GO"))
	assert.False(t, packages.Allows("GO", access.MustParsePermission("offers:write")))
	_, ok := packages.MinPackage(access.MustParsePermission("offers:write"))
	assert.False(t, ok)
	assert.Nil(t, packages.Permissions("GO"))
}

func TestRetailPackages(t *testing.T) {
	packages := testpackages.Retail()
	assert.Equal(t, retailNames, packages.Names())
	assert.Equal(t, []string{
		"stores:read", "products:read", "products:write", "catalog:read", "catalog:write", "products:import",
		"chat:write", "chat:read",
		"offers:write", "offers:read", "clickcollect:write",
		"checkout:start", "checkout:confirm", "sync:write",
		"analytics:export",
	}, packages.Permissions("PRIME"))
	for perm, want := range map[string]string{
		"stores:read": "DISCOVER", "catalog:write": "DISCOVER", "products:import": "DISCOVER",
		"chat:read": "ASSIST", "clickcollect:write": "GO", "sync:write": "GROW",
		"analytics:export": "PRIME",
	} {
		got, ok := packages.MinPackage(access.MustParsePermission(perm))
		assert.True(t, ok, perm)
		assert.Equal(t, want, got, perm)
	}
	_, ok := packages.MinPackage(access.MustParsePermission("admin:keys"))
	assert.False(t, ok, "PRIME is not *:*")
	assert.True(t, packages.Allows("PRIME", access.MustParsePermission("stores:read:store_42")))
	assert.False(t, packages.Allows("prime", access.MustParsePermission("stores:read")))
	assert.NotSame(t, packages, testpackages.Retail())
}

// demoRoutes are the reference server's demo routes (issue 5, section 6)
// with the permission and minimum package each requires, and, for each
// package in ascending order, whether a key of that package holding every
// permission reaches the route.
var demoRoutes = []struct {
	route, perm, minimum string
	reaches              [5]bool // DISCOVER, ASSIST, GO, GROW, PRIME
}{
	{"GET /v1/stores", "stores:read", "DISCOVER", [5]bool{true, true, true, true, true}},
	{"GET /v1/products", "products:read", "DISCOVER", [5]bool{true, true, true, true, true}},
	{"POST /v1/products", "products:write", "DISCOVER", [5]bool{true, true, true, true, true}},
	{"POST /v1/chat/messages", "chat:write", "ASSIST", [5]bool{false, true, true, true, true}},
	{"POST /v1/offers", "offers:write", "GO", [5]bool{false, false, true, true, true}},
	{"POST /v1/checkout/start", "checkout:start", "GROW", [5]bool{false, false, false, true, true}},
	{"POST /v1/checkout/confirm", "checkout:confirm", "GROW", [5]bool{false, false, false, true, true}},
	{"GET /v1/analytics/export", "analytics:export", "PRIME", [5]bool{false, false, false, false, true}},
}

// TestRetailMatrix checks every demo route against every package: with
// the route's minimum package, with the package derived from its
// permission, and through the package's permissions; with full grants, with exactly the route's
// permission, and without it.
func TestRetailMatrix(t *testing.T) {
	packages := testpackages.Retail()
	all := access.MustNewGrants([]string{"*:*"}, nil, nil)
	none := access.MustNewGrants([]string{"stores:read:store_42"}, nil, nil)
	for _, rt := range demoRoutes {
		req, err := access.ParseRequirement(rt.perm, rt.minimum, packages)
		require.NoError(t, err, rt.route)
		perm := access.MustParsePermission(rt.perm)
		exact := access.MustNewGrants([]string{rt.perm}, nil, nil)
		min, ok := packages.MinPackage(perm)
		require.True(t, ok, rt.route)
		assert.Equal(t, rt.minimum, min, "%s: the route's minimum is the lowest package that includes its permission", rt.route)
		for i, pkg := range retailNames {
			want := rt.reaches[i]
			name := rt.route + " with " + pkg
			assert.Equal(t, want, packages.Reaches(pkg, rt.minimum), name)
			assert.Equal(t, want, packages.Allows(pkg, perm), name)
			for _, g := range []access.Grants{all, exact} {
				err := req.Check(pkg, g, "")
				if want {
					assert.NoError(t, err, name)
				} else {
					assert.ErrorIs(t, err, access.ErrForbidden, name)
				}
				assert.Equal(t, err, access.Requirement{Permission: rt.perm, Package: rt.minimum}.Check(pkg, g, packages, ""), name)
			}
			// Without the permission, no package helps.
			err := req.Check(pkg, none, "")
			require.ErrorIs(t, err, access.ErrForbidden, name)
			var fe *access.ForbiddenError
			require.True(t, errors.As(err, &fe))
			assert.Equal(t, access.ReasonInsufficientScope, fe.Reason())
		}
		// An unknown package reaches nothing, whatever it holds.
		for _, pkg := range []string{"", "prime", "Prime", "PLATINUM"} {
			assert.ErrorIs(t, req.Check(pkg, all, ""), access.ErrForbidden, pkg)
		}
	}
}
