package access_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/access"
)

func TestParseRequirementRefuses(t *testing.T) {
	tiers := access.RetailTiers()
	for name, tc := range map[string]struct {
		perm, tier string
		tiers      *access.Tiers
		err        error
	}{
		"nothing":                {"", "", tiers, access.ErrInvalidConfig},
		"malformed":              {"Offers:write", "", tiers, access.ErrMalformedPermission},
		"wildcard action":        {"offers:*", "", tiers, access.ErrInvalidConfig},
		"wildcard module":        {"*:write", "GO", tiers, access.ErrInvalidConfig},
		"wildcard entity":        {"stores:read:*", "", tiers, access.ErrInvalidConfig},
		"placeholder alone":      {"{entity}", "", tiers, access.ErrMalformedPermission},
		"placeholder as action":  {"stores:{entity}", "", tiers, access.ErrMalformedPermission},
		"placeholder in middle":  {"stores:read:{entity}:x", "", tiers, access.ErrMalformedPermission},
		"partial placeholder":    {"stores:read:store_{entity}", "", tiers, access.ErrMalformedPermission},
		"unknown tier":           {"offers:write", "GOLD", tiers, access.ErrUnknownTier},
		"tier in the wrong case": {"offers:write", "go", tiers, access.ErrUnknownTier},
		"tier without tiers":     {"offers:write", "GO", nil, access.ErrUnknownTier},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := access.ParseRequirement(tc.perm, tc.tier, tc.tiers)
			require.ErrorIs(t, err, tc.err)
			assert.Zero(t, c)
			assert.Panics(t, func() { access.MustParseRequirement(tc.perm, tc.tier, tc.tiers) })
			// Checked at request time anyway, it refuses.
			all := access.MustNewGrants([]string{"*:*"}, nil, nil)
			err = access.Requirement{Permission: tc.perm, Tier: tc.tier}.Check("PRIME", all, tc.tiers, "store_1")
			assert.ErrorIs(t, err, access.ErrForbidden)
			assert.ErrorIs(t, err, tc.err)
		})
	}
}

func TestZeroCompiledRequirementRefuses(t *testing.T) {
	var c access.CompiledRequirement
	all := access.MustNewGrants([]string{"*:*"}, nil, nil)
	assert.ErrorIs(t, c.Check("PRIME", all, ""), access.ErrForbidden)
	assert.Equal(t, "(invalid requirement)", c.String())
}

func TestRequirementEntity(t *testing.T) {
	tiers := access.RetailTiers()
	req := access.MustParseRequirement("stores:read:{entity}", "DISCOVER", tiers)
	assert.True(t, req.NeedsEntity())
	assert.Equal(t, access.Requirement{Permission: "stores:read:{entity}", Tier: "DISCOVER"}, req.Requirement())
	assert.Equal(t, "stores:read:{entity} (tier DISCOVER)", req.String())

	scoped := access.MustNewGrants([]string{"stores:read:store_42"}, nil, nil)
	every := access.MustNewGrants([]string{"stores:read"}, nil, nil)
	star := access.MustNewGrants([]string{"stores:*:*"}, nil, nil)
	for _, tc := range []struct {
		g      access.Grants
		entity string
		want   error // nil or a detail
	}{
		{scoped, "store_42", nil},
		{scoped, "store_43", errors.New("permission not granted")},
		{scoped, "Store_42", errors.New("permission not granted")},
		{every, "store_43", nil},
		{star, "store_43", nil},
		// Entities that are missing or not entities are refused, before
		// any grant is consulted: "*" must not become a wildcard.
		{every, "", errors.New("missing or malformed entity")},
		{every, "*", errors.New("missing or malformed entity")},
		{every, "store_42:x", errors.New("missing or malformed entity")},
		{every, "store 42", errors.New("missing or malformed entity")},
		{every, "../42", errors.New("missing or malformed entity")},
		{every, string(make([]byte, 65)), errors.New("missing or malformed entity")},
	} {
		err := req.Check("GO", tc.g, tc.entity)
		if tc.want == nil {
			assert.NoError(t, err, tc.entity)
			continue
		}
		require.ErrorIs(t, err, access.ErrForbidden, tc.entity)
		var fe *access.ForbiddenError
		require.ErrorAs(t, err, &fe)
		assert.Equal(t, tc.want.Error(), fe.Detail(), tc.entity)
		assert.Equal(t, "access: forbidden (insufficient_scope): "+fe.Detail(), err.Error())
	}
	// The tier is checked first.
	err := req.Check("PLATINUM", every, "store_42")
	var fe *access.ForbiddenError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "package below the required tier", fe.Detail())

	// Without the placeholder the entity argument is ignored.
	fixed := access.MustParseRequirement("stores:read:store_42", "", nil)
	assert.False(t, fixed.NeedsEntity())
	assert.NoError(t, fixed.Check("", scoped, "store_43"))
	assert.NoError(t, fixed.Check("", scoped, ""))
}

func TestRequirementParts(t *testing.T) {
	tiers := access.RetailTiers()
	none := access.Grants{}
	tierOnly := access.MustParseRequirement("", "GROW", tiers)
	assert.Equal(t, "tier GROW", tierOnly.String())
	assert.NoError(t, tierOnly.Check("PRIME", none, ""))
	assert.ErrorIs(t, tierOnly.Check("GO", none, ""), access.ErrForbidden)

	permOnly := access.MustParseRequirement("admin:keys", "", nil)
	assert.Equal(t, "admin:keys", permOnly.String())
	assert.NoError(t, permOnly.Check("", access.MustNewGrants([]string{"admin:*"}, nil, nil), ""))
	assert.ErrorIs(t, permOnly.Check("PRIME", none, ""), access.ErrForbidden)
}

func TestCheckAllocatesNothing(t *testing.T) {
	tiers := access.RetailTiers()
	g := access.MustNewGrants([]string{"products:read", "stores:read:store_42", "offers:*"}, []string{"viewer"}, roles)
	ok := access.MustParseRequirement("stores:read:{entity}", "GO", tiers)
	p := access.MustParsePermission("offers:write")
	for name, f := range map[string]func(){
		"allowed":     func() { _ = ok.Check("GROW", g, "store_42") },
		"no tier":     func() { _ = ok.Check("DISCOVER", g, "store_42") },
		"no entity":   func() { _ = ok.Check("GROW", g, "") },
		"not granted": func() { _ = ok.Check("GROW", access.Grants{}, "store_42") },
		"grants":      func() { _ = g.Allows(p) },
		"tiers":       func() { _ = tiers.Allows("GO", p) },
		"reaches":     func() { _ = tiers.Reaches("GO", "GROW") },
		"covers":      func() { _ = p.Covers(p) },
	} {
		assert.Zero(t, testing.AllocsPerRun(100, f), name)
	}
}
