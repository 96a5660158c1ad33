package access_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/access"
	"github.com/keygate/keygate/internal/testpackages"
)

func TestParseRequirementRefuses(t *testing.T) {
	packages := testpackages.Retail()
	for name, tc := range map[string]struct {
		perm, pkg string
		packages  *access.Packages
		err       error
	}{
		"nothing":                   {"", "", packages, access.ErrInvalidConfig},
		"malformed":                 {"Offers:write", "", packages, access.ErrMalformedPermission},
		"wildcard action":           {"offers:*", "", packages, access.ErrInvalidConfig},
		"wildcard module":           {"*:write", "GO", packages, access.ErrInvalidConfig},
		"wildcard entity":           {"stores:read:*", "", packages, access.ErrInvalidConfig},
		"placeholder alone":         {"{entity}", "", packages, access.ErrMalformedPermission},
		"placeholder as action":     {"stores:{entity}", "", packages, access.ErrMalformedPermission},
		"placeholder in middle":     {"stores:read:{entity}:x", "", packages, access.ErrMalformedPermission},
		"partial placeholder":       {"stores:read:store_{entity}", "", packages, access.ErrMalformedPermission},
		"unknown package":           {"offers:write", "GOLD", packages, access.ErrUnknownPackage},
		"package in the wrong case": {"offers:write", "go", packages, access.ErrUnknownPackage},
		"package without packages":  {"offers:write", "GO", nil, access.ErrUnknownPackage},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := access.ParseRequirement(tc.perm, tc.pkg, tc.packages)
			require.ErrorIs(t, err, tc.err)
			assert.Zero(t, c)
			assert.Panics(t, func() { access.MustParseRequirement(tc.perm, tc.pkg, tc.packages) })
			// Checked at request time anyway, it refuses.
			all := access.MustNewGrants([]string{"*:*"}, nil, nil)
			err = access.Requirement{Permission: tc.perm, Package: tc.pkg}.Check("PRIME", all, tc.packages, "store_1")
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
	packages := testpackages.Retail()
	req := access.MustParseRequirement("stores:read:{entity}", "DISCOVER", packages)
	assert.True(t, req.NeedsEntity())
	assert.Equal(t, access.Requirement{Permission: "stores:read:{entity}", Package: "DISCOVER"}, req.Requirement())
	assert.Equal(t, "stores:read:{entity} (package DISCOVER)", req.String())

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
	// The package is checked first.
	err := req.Check("PLATINUM", every, "store_42")
	var fe *access.ForbiddenError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "package below the required minimum", fe.Detail())

	// Without the placeholder the entity argument is ignored.
	fixed := access.MustParseRequirement("stores:read:store_42", "", nil)
	assert.False(t, fixed.NeedsEntity())
	assert.NoError(t, fixed.Check("", scoped, "store_43"))
	assert.NoError(t, fixed.Check("", scoped, ""))
}

func TestRequirementParts(t *testing.T) {
	packages := testpackages.Retail()
	none := access.Grants{}
	packageOnly := access.MustParseRequirement("", "GROW", packages)
	assert.Equal(t, "package GROW", packageOnly.String())
	assert.NoError(t, packageOnly.Check("PRIME", none, ""))
	assert.ErrorIs(t, packageOnly.Check("GO", none, ""), access.ErrForbidden)

	permOnly := access.MustParseRequirement("admin:keys", "", nil)
	assert.Equal(t, "admin:keys", permOnly.String())
	assert.NoError(t, permOnly.Check("", access.MustNewGrants([]string{"admin:*"}, nil, nil), ""))
	assert.ErrorIs(t, permOnly.Check("PRIME", none, ""), access.ErrForbidden)
}

func TestCheckAllocatesNothing(t *testing.T) {
	packages := testpackages.Retail()
	g := access.MustNewGrants([]string{"products:read", "stores:read:store_42", "offers:*"}, []string{"viewer"}, roles)
	ok := access.MustParseRequirement("stores:read:{entity}", "GO", packages)
	p := access.MustParsePermission("offers:write")
	for name, f := range map[string]func(){
		"allowed":     func() { _ = ok.Check("GROW", g, "store_42") },
		"low package": func() { _ = ok.Check("DISCOVER", g, "store_42") },
		"no entity":   func() { _ = ok.Check("GROW", g, "") },
		"not granted": func() { _ = ok.Check("GROW", access.Grants{}, "store_42") },
		"grants":      func() { _ = g.Allows(p) },
		"packages":    func() { _ = packages.Allows("GO", p) },
		"reaches":     func() { _ = packages.Reaches("GO", "GROW") },
		"covers":      func() { _ = p.Covers(p) },
	} {
		assert.Zero(t, testing.AllocsPerRun(100, f), name)
	}
}
