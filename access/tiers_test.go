package access_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/access"
)

var retailNames = []string{"DISCOVER", "ASSIST", "GO", "GROW", "PRIME"}

func TestNewTiersRefuses(t *testing.T) {
	for name, tc := range map[string]struct {
		tiers []access.Tier
		err   error
	}{
		"none":           {nil, access.ErrInvalidConfig},
		"empty name":     {[]access.Tier{{Name: ""}}, access.ErrInvalidConfig},
		"name with dot":  {[]access.Tier{{Name: "GO.1"}}, access.ErrInvalidConfig},
		"name too long":  {[]access.Tier{{Name: string(make([]byte, 65))}}, access.ErrInvalidConfig},
		"duplicate":      {[]access.Tier{{Name: "GO"}, {Name: "GROW"}, {Name: "GO"}}, access.ErrInvalidConfig},
		"bad permission": {[]access.Tier{{Name: "GO", Permissions: []string{"offers:Write"}}}, access.ErrMalformedPermission},
	} {
		t.Run(name, func(t *testing.T) {
			tiers, err := access.NewTiers(tc.tiers)
			require.ErrorIs(t, err, tc.err)
			assert.Nil(t, tiers)
		})
	}
}

func TestTiersCumulative(t *testing.T) {
	tiers, err := access.NewTiers([]access.Tier{
		{Name: "free", Permissions: []string{"products:read"}},
		{Name: "pro", Permissions: []string{"products:write", "products:read"}},
		{Name: "pro-plus"}, // same permissions, another rate limit
		{Name: "Enterprise", Permissions: []string{"*:*"}},
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"free", "pro", "pro-plus", "Enterprise"}, tiers.Names())
	assert.Equal(t, []string{"products:read", "products:write"}, tiers.Permissions("pro-plus"))
	assert.Nil(t, tiers.Permissions("gold"))
	w := access.MustParsePermission("products:write")
	assert.False(t, tiers.Allows("free", w))
	assert.True(t, tiers.Allows("pro", w))
	assert.True(t, tiers.Allows("pro-plus", w))
	assert.True(t, tiers.Allows("Enterprise", access.MustParsePermission("anything:else")))
	assert.False(t, tiers.Allows("enterprise", w), "names compare exactly")
	assert.True(t, tiers.Reaches("pro-plus", "pro"))
	assert.False(t, tiers.Reaches("pro", "pro-plus"))
	assert.False(t, tiers.Reaches("gold", "free"), "unknown package")
	assert.False(t, tiers.Reaches("Enterprise", "gold"), "unknown tier")
	assert.False(t, tiers.Reaches("", ""))
	min, ok := tiers.MinTier(w)
	assert.True(t, ok)
	assert.Equal(t, "pro", min)
	min, ok = tiers.MinTier(access.MustParsePermission("x:y"))
	assert.True(t, ok)
	assert.Equal(t, "Enterprise", min)

	// Names returns a copy.
	tiers.Names()[0] = "changed"
	assert.Equal(t, "free", tiers.Names()[0])
}

func TestNilTiers(t *testing.T) {
	var tiers *access.Tiers
	assert.Nil(t, tiers.Names())
	assert.False(t, tiers.Has("GO"))
	assert.False(t, tiers.Reaches("GO", "GO"))
	assert.False(t, tiers.Allows("GO", access.MustParsePermission("offers:write")))
	_, ok := tiers.MinTier(access.MustParsePermission("offers:write"))
	assert.False(t, ok)
	assert.Nil(t, tiers.Permissions("GO"))
}

func TestRetailTiers(t *testing.T) {
	tiers := access.RetailTiers()
	assert.Equal(t, retailNames, tiers.Names())
	assert.Equal(t, []string{
		"stores:read", "products:read", "products:write", "catalog:read", "catalog:write", "products:import",
		"chat:write", "chat:read",
		"offers:write", "offers:read", "clickcollect:write",
		"checkout:start", "checkout:confirm", "sync:write",
		"analytics:export",
	}, tiers.Permissions("PRIME"))
	for perm, want := range map[string]string{
		"stores:read": "DISCOVER", "catalog:write": "DISCOVER", "products:import": "DISCOVER",
		"chat:read": "ASSIST", "clickcollect:write": "GO", "sync:write": "GROW",
		"analytics:export": "PRIME",
	} {
		got, ok := tiers.MinTier(access.MustParsePermission(perm))
		assert.True(t, ok, perm)
		assert.Equal(t, want, got, perm)
	}
	_, ok := tiers.MinTier(access.MustParsePermission("admin:keys"))
	assert.False(t, ok, "PRIME is not *:*")
	assert.True(t, tiers.Allows("PRIME", access.MustParsePermission("stores:read:store_42")))
	assert.False(t, tiers.Allows("prime", access.MustParsePermission("stores:read")))
	assert.NotSame(t, tiers, access.RetailTiers())
}

// demoRoutes are the reference server's demo routes (issue 5, section 6)
// with the permission and tier each requires, and, for each tier in
// ascending order, whether a key of that package holding every permission
// reaches the route.
var demoRoutes = []struct {
	route, perm, tier string
	reaches           [5]bool // DISCOVER, ASSIST, GO, GROW, PRIME
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

// TestRetailMatrix checks every demo route against every tier: with the
// route's tier, with the tier derived from its permission, and through
// the package's permissions; with full grants, with exactly the route's
// permission, and without it.
func TestRetailMatrix(t *testing.T) {
	tiers := access.RetailTiers()
	all := access.MustNewGrants([]string{"*:*"}, nil, nil)
	none := access.MustNewGrants([]string{"stores:read:store_42"}, nil, nil)
	for _, rt := range demoRoutes {
		req, err := access.ParseRequirement(rt.perm, rt.tier, tiers)
		require.NoError(t, err, rt.route)
		perm := access.MustParsePermission(rt.perm)
		exact := access.MustNewGrants([]string{rt.perm}, nil, nil)
		min, ok := tiers.MinTier(perm)
		require.True(t, ok, rt.route)
		assert.Equal(t, rt.tier, min, "%s: the route's tier is the lowest that includes its permission", rt.route)
		for i, pkg := range retailNames {
			want := rt.reaches[i]
			name := rt.route + " with " + pkg
			assert.Equal(t, want, tiers.Reaches(pkg, rt.tier), name)
			assert.Equal(t, want, tiers.Allows(pkg, perm), name)
			for _, g := range []access.Grants{all, exact} {
				err := req.Check(pkg, g, "")
				if want {
					assert.NoError(t, err, name)
				} else {
					assert.ErrorIs(t, err, access.ErrForbidden, name)
				}
				assert.Equal(t, err, access.Requirement{Permission: rt.perm, Tier: rt.tier}.Check(pkg, g, tiers, ""), name)
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
