package access_test

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/access"
	"github.com/keygate/keygate/internal/testpackages"
)

// enterprisePackages has a package with the "*" module and a package without
// permissions.
func enterprisePackages(t testing.TB) *access.Packages {
	packages, err := access.NewPackages([]access.Package{
		{Name: "free", Permissions: []string{"products:read", "stores:read"}},
		{Name: "pro", Permissions: []string{"products:*"}},
		{Name: "pro-plus"},
		{Name: "enterprise", Permissions: []string{"*:*"}},
	})
	require.NoError(t, err)
	return packages
}

func TestNewPackagesRefusesAdminModule(t *testing.T) {
	for _, perm := range []string{"admin:read", "admin:*", "admin:write:acct_1"} {
		packages, err := access.NewPackages([]access.Package{{Name: "GO", Permissions: []string{"offers:read"}}, {Name: "PRIME", Permissions: []string{perm}}})
		require.ErrorIs(t, err, access.ErrInvalidConfig, perm)
		assert.Nil(t, packages)
	}
}

func TestPackagesNeverAllowAdmin(t *testing.T) {
	packages := enterprisePackages(t)
	assert.True(t, packages.Allows("enterprise", access.MustParsePermission("anything:else")))
	for _, s := range []string{"admin:read", "admin:write", "admin:review", "admin:read:acct_1"} {
		p := access.MustParsePermission(s)
		assert.False(t, packages.Allows("enterprise", p), s)
		_, ok := packages.MinPackage(p)
		assert.False(t, ok, s)
	}
}

func TestEffective(t *testing.T) {
	retail := testpackages.Retail()
	enterprise := enterprisePackages(t)
	prime := retail.Permissions(testpackages.Prime)
	for name, tc := range map[string]struct {
		packages *access.Packages
		pkg      string
		explicit []string // nil: a standard credential
		allow    []string
		deny     []string
		list     []string
	}{
		"standard PRIME": {retail, "PRIME", nil,
			[]string{"analytics:export", "stores:read", "stores:read:store_1", "offers:write"},
			[]string{"admin:read", "admin:write", "reports:read"}, prime},
		"standard GO": {retail, "GO", nil,
			[]string{"offers:write", "products:read"},
			[]string{"analytics:export", "checkout:start", "admin:read"}, retail.Permissions("GO")},
		"standard unknown package": {retail, "PLATINUM", nil, nil,
			[]string{"stores:read", "admin:read"}, []string{}},
		"standard without package": {retail, "", nil, nil, []string{"stores:read"}, []string{}},
		"standard with the * module package": {enterprise, "enterprise", nil,
			[]string{"anything:else", "products:write"},
			[]string{"admin:read", "admin:review:acct_1"}, []string{"products:read", "stores:read", "products:*", "*:*"}},
		"restricted outside its package": {retail, "GO", []string{"analytics:export"}, nil,
			[]string{"analytics:export", "offers:write"}, []string{}},
		"restricted inside its package": {retail, "PRIME", []string{"analytics:export", "offers:read"},
			[]string{"analytics:export", "offers:read"}, []string{"offers:write", "stores:read"},
			[]string{"offers:read", "analytics:export"}},
		"operator on the top package": {retail, "PRIME", []string{"*:*"},
			[]string{"analytics:export", "stores:read", "admin:read", "admin:write", "admin:review", "reports:read"}, nil,
			append(append([]string{}, prime...), "*:*")},
		"operator on GO": {retail, "GO", []string{"*:*"},
			[]string{"offers:write", "admin:write", "reports:read"},
			[]string{"analytics:export", "checkout:start"}, append(retail.Permissions("GO"), "*:*")},
		"admin only, no package": {retail, "", []string{"admin:read", "admin:write"},
			[]string{"admin:read", "admin:write"}, []string{"admin:review", "stores:read"},
			[]string{"admin:read", "admin:write"}},
		"admin only, PRIME": {retail, "PRIME", []string{"admin:*"},
			[]string{"admin:read", "admin:review"}, []string{"stores:read", "analytics:export"},
			[]string{"admin:*"}},
		"entity-scoped": {retail, "DISCOVER", []string{"stores:*:store_1"},
			[]string{"stores:read:store_1", "stores:delete:store_1"},
			[]string{"stores:read", "stores:read:store_2", "products:read"},
			[]string{"stores:read:store_1", "stores:*:store_1"}},
		"module wildcard narrowed": {retail, "DISCOVER", []string{"products:*"},
			[]string{"products:read", "products:write", "products:import", "products:delete"},
			[]string{"stores:read"},
			[]string{"products:read", "products:write", "products:import", "products:*"}},
		"restricted with the * module package": {enterprise, "pro", []string{"*:*"},
			[]string{"products:write", "stores:read", "admin:read"},
			[]string{"offers:write"}, []string{"products:*", "stores:read", "*:*"}},
		"restricted, admin under the * module package": {enterprise, "enterprise", []string{"admin:read", "offers:write"},
			[]string{"admin:read", "offers:write"}, []string{"admin:write", "offers:read"},
			[]string{"offers:write", "admin:read"}},
		"most general kept once": {retail, "PRIME", []string{"stores:read:store_1", "stores:read", "stores:*"},
			[]string{"stores:read", "stores:read:store_2"}, []string{"products:read"},
			[]string{"stores:read", "stores:*"}},
		"no packages: explicit alone": {nil, "PRIME", []string{"analytics:export", "admin:read"},
			[]string{"analytics:export", "admin:read"}, []string{"stores:read"},
			[]string{"analytics:export", "admin:read"}},
		"no packages: standard holds nothing": {nil, "PRIME", nil, nil,
			[]string{"stores:read", "admin:read"}, []string{}},
	} {
		t.Run(name, func(t *testing.T) {
			explicit := access.MustNewGrants(tc.explicit, nil, nil)
			g := tc.packages.Effective(tc.pkg, explicit, tc.explicit == nil)
			for _, s := range tc.allow {
				assert.True(t, g.Allows(access.MustParsePermission(s)), "should allow %s", s)
			}
			for _, s := range tc.deny {
				assert.False(t, g.Allows(access.MustParsePermission(s)), "should deny %s", s)
			}
			assert.Equal(t, tc.list, g.Permissions())
			assert.Equal(t, len(tc.list), g.Len())
			if tc.explicit != nil {
				// The canonical list gives the same grants again.
				again := tc.packages.Effective(tc.pkg, access.MustNewGrants(g.Permissions(), nil, nil), false)
				assert.ElementsMatch(t, g.Permissions(), again.Permissions())
			}
		})
	}
}

func TestEffectiveFailsClosed(t *testing.T) {
	retail := testpackages.Retail()
	all := access.MustNewGrants([]string{"*:*"}, nil, nil)
	eff := retail.Effective("PRIME", all, false)
	require.True(t, eff.Allows(access.MustParsePermission("admin:read")))
	// Effective grants passed as explicit ones grant nothing.
	again := retail.Effective("PRIME", eff, false)
	assert.False(t, again.Allows(access.MustParsePermission("admin:read")))
	assert.False(t, again.Allows(access.MustParsePermission("stores:read")))
	// A restricted credential whose list did not parse (the zero Grants)
	// is not a standard one.
	none := retail.Effective("PRIME", access.Grants{}, false)
	assert.False(t, none.Allows(access.MustParsePermission("stores:read")))
	assert.Empty(t, none.Permissions())
}

func TestEffectiveCheckAllocatesNothing(t *testing.T) {
	retail := testpackages.Retail()
	req := access.MustParseRequirement("analytics:export", "", retail)
	admin := access.MustParseRequirement("admin:read", "", retail)
	op := retail.Effective("PRIME", access.MustNewGrants([]string{"*:*"}, nil, nil), false)
	std := retail.Effective("PRIME", access.Grants{}, true)
	allocs := testing.AllocsPerRun(100, func() {
		if req.Check("PRIME", op, "") != nil || req.Check("PRIME", std, "") != nil ||
			admin.Check("PRIME", op, "") != nil || admin.Check("PRIME", std, "") == nil {
			panic("unexpected answer")
		}
	})
	assert.Zero(t, allocs)
}

// fuzzParts are the values the property test builds permissions from: few
// enough that grants and requirements meet often.
var fuzzParts = [][]string{
	{"*", "admin", "stores", "products", "reports"},
	{"*", "read", "write"},
	{"", "*", "s1", "s2"},
}

// fuzzPermission decodes a permission from two bytes.
func fuzzPermission(b0, b1 byte) access.Permission {
	m := fuzzParts[0][int(b0)%len(fuzzParts[0])]
	a := fuzzParts[1][int(b0>>4)%len(fuzzParts[1])]
	e := fuzzParts[2][int(b1)%len(fuzzParts[2])]
	return access.Permission{Module: m, Action: a, Entity: e}
}

// FuzzEffective checks the rule against its definition on every concrete
// permission of a small universe: a standard credential holds exactly what
// its package includes, never an admin permission; a restricted one holds
// what its explicit grants and its package both include, or its explicit
// grants alone where no package includes the permission; so effective
// grants are always within explicit-or-package. Building the grants again
// from a restricted credential's canonical list changes nothing.
func FuzzEffective(f *testing.F) {
	f.Add([]byte{0, 0}, []byte{1, 0, 2, 0}, uint8(4), false)
	f.Add([]byte{}, []byte{0, 0}, uint8(2), true)
	f.Add([]byte{2, 2, 3, 0}, []byte{0x10, 1, 0x21, 3}, uint8(1), false)
	f.Add([]byte{3, 0}, []byte{1, 2}, uint8(0), false)
	f.Fuzz(func(t *testing.T, pkgBytes, explicitBytes []byte, pkgIndex uint8, standard bool) {
		var pkgPerms [2][]string
		for i := 0; i+1 < len(pkgBytes) && i < 16; i += 2 {
			p := fuzzPermission(pkgBytes[i], pkgBytes[i+1])
			if p.Module == access.AdminModule {
				continue
			}
			pkgPerms[i/2%2] = append(pkgPerms[i/2%2], p.String())
		}
		packages, err := access.NewPackages([]access.Package{{Name: "low", Permissions: pkgPerms[0]}, {Name: "high", Permissions: pkgPerms[1]}})
		if err != nil {
			t.Fatal(err)
		}
		pkg := []string{"low", "high", "", "unknown"}[pkgIndex%4]
		var explicitPerms []string
		for i := 0; i+1 < len(explicitBytes) && i < 16; i += 2 {
			explicitPerms = append(explicitPerms, fuzzPermission(explicitBytes[i], explicitBytes[i+1]).String())
		}
		explicit := access.MustNewGrants(explicitPerms, nil, nil)
		g := packages.Effective(pkg, explicit, standard)
		again := packages.Effective(pkg, access.MustNewGrants(g.Permissions(), nil, nil), false)
		for _, m := range fuzzParts[0][1:] {
			for _, a := range fuzzParts[1][1:] {
				for _, e := range []string{"", "s1", "s2", "s3"} {
					r := access.Permission{Module: m, Action: a, Entity: e}
					inPkg := packages.Allows(pkg, r)
					packaged := packages.Allows("high", r)
					var want bool
					if standard {
						want = inPkg
					} else {
						want = explicit.Allows(r) && (inPkg || !packaged)
					}
					if got := g.Allows(r); got != want {
						t.Fatalf("packages %v, package %q, explicit %v (standard %v): Allows(%s) = %v, want %v; list %v",
							pkgPerms, pkg, explicitPerms, standard, r, got, want, g.Permissions())
					}
					if want && !explicit.Allows(r) && !inPkg {
						t.Fatalf("%s is neither explicit nor in the package", r)
					}
					if standard && m == access.AdminModule && want {
						t.Fatalf("a standard credential holds %s", r)
					}
					if !standard && again.Allows(r) != want {
						t.Fatalf("the canonical list %v changes Allows(%s)", g.Permissions(), r)
					}
				}
			}
		}
		if !standard && !sameSet(again.Permissions(), g.Permissions()) {
			t.Fatalf("canonical list %v becomes %v", g.Permissions(), again.Permissions())
		}
	})
}

// sameSet reports whether a and b hold the same strings.
func sameSet(a, b []string) bool {
	a, b = slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b))
	return slices.Equal(a, b)
}

func TestForCredential(t *testing.T) {
	retail := testpackages.Retail()
	defs := access.Roles{"reporter": {"analytics:export", "reports:read"}}
	for name, tc := range map[string]struct {
		pkg      string
		list     []string
		packages *access.Packages
		want     []string
	}{
		"standard":              {"GO", nil, retail, retail.Permissions("GO")},
		"standard, empty list":  {"GO", []string{}, retail, retail.Permissions("GO")},
		"role expanded":         {"PRIME", []string{"@reporter", "stores:read"}, retail, []string{"stores:read", "analytics:export", "reports:read"}},
		"role bounded":          {"GO", []string{"@reporter"}, retail, []string{"reports:read"}},
		"unknown role":          {"PRIME", []string{"@nobody"}, retail, []string{}},
		"malformed":             {"PRIME", []string{"stores:read", "Stores:read"}, retail, []string{}},
		"no packages":           {"PRIME", []string{"@reporter"}, nil, []string{"analytics:export", "reports:read"}},
		"no packages, standard": {"PRIME", nil, nil, []string{}},
	} {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.packages.ForCredential(tc.pkg, tc.list, defs).Permissions())
		})
	}
}

func TestPackaged(t *testing.T) {
	packages := testpackages.Retail()
	for _, tc := range []struct {
		perm string
		want bool
	}{
		{"analytics:export", true},
		{"stores:read", true},
		{"stores:read:store_1", true},
		{"offers:*", false}, // wider than offers:read and offers:write
		{"admin:read", false},
		{"*:*", false},
		{"orders:read", false}, // in no package
	} {
		if got := packages.Packaged(access.MustParsePermission(tc.perm)); got != tc.want {
			t.Errorf("Packaged(%s) = %v, want %v", tc.perm, got, tc.want)
		}
	}
	var none *access.Packages
	if none.Packaged(access.MustParsePermission("stores:read")) {
		t.Error("a nil *Packages packages nothing")
	}
}

// TestEffectiveIncludes checks Includes on effective grants: the package
// part and the unpackaged part counted as Allows counts them.
func TestEffectiveIncludes(t *testing.T) {
	retail := testpackages.Retail()
	enterprise, err := access.NewPackages([]access.Package{{Name: "free", Permissions: []string{"stores:read"}}, {Name: "enterprise", Permissions: []string{"*:*"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		packages *access.Packages
		pkg      string
		explicit []string // nil: standard
		yes, no  []string
	}{
		{retail, "PRIME", []string{"*:*"},
			[]string{"*:*", "admin:*", "admin:read", "analytics:export", "stores:*", "reports:*"}, nil},
		{retail, "GO", []string{"*:*"},
			[]string{"admin:*", "offers:write", "reports:*", "*:read"}, []string{"*:*", "analytics:export", "analytics:*", "*:write"}},
		{retail, "PRIME", []string{"admin:write"},
			[]string{"admin:write"}, []string{"admin:*", "admin:read", "stores:read", "*:*"}},
		{retail, "PRIME", nil,
			[]string{"analytics:export", "stores:read", "stores:read:s1"}, []string{"stores:*", "admin:read", "*:*", "reports:read"}},
		{retail, "DISCOVER", []string{"stores:*"},
			[]string{"stores:*", "stores:read", "stores:delete"}, []string{"products:read"}},
		{enterprise, "enterprise", nil,
			[]string{"stores:*", "anything:read"}, []string{"*:*", "admin:read", "*:read"}},
		{enterprise, "enterprise", []string{"*:*"},
			[]string{"*:*", "admin:review"}, nil},
		{enterprise, "free", []string{"*:*"},
			[]string{"stores:read", "admin:*"}, []string{"*:*", "products:read", "stores:*"}},
		{nil, "PRIME", []string{"stores:*", "admin:read"},
			[]string{"stores:read", "stores:*", "admin:read"}, []string{"*:*", "admin:*"}},
	} {
		g := tc.packages.Effective(tc.pkg, access.MustNewGrants(tc.explicit, nil, nil), tc.explicit == nil)
		for _, s := range tc.yes {
			if !g.Includes(access.MustParsePermission(s)) {
				t.Errorf("%q %v: should include %s", tc.pkg, tc.explicit, s)
			}
		}
		for _, s := range tc.no {
			if g.Includes(access.MustParsePermission(s)) {
				t.Errorf("%q %v: should not include %s", tc.pkg, tc.explicit, s)
			}
		}
	}
}
