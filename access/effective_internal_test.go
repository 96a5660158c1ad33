package access

import "testing"

// FuzzIncludesLimited checks includesLimited against its definition on a
// universe of concrete permissions with one value per part that no grant
// names (standing for every such value): q is included exactly when every
// permission it covers is allowed.
func FuzzIncludesLimited(f *testing.F) {
	f.Add([]byte{0, 0}, []byte{1, 0, 2, 0}, []byte{0, 0}, uint8(1), false)
	f.Add([]byte{0, 0}, []byte{0, 0}, []byte{1, 0}, uint8(1), false)
	f.Add([]byte{2, 0}, []byte{}, []byte{2, 0}, uint8(0), true)
	f.Add([]byte{0, 1}, []byte{0x11, 2}, []byte{0x10, 0}, uint8(1), false)
	modules := []string{"*", "admin", "stores", "products"}
	actions := []string{"*", "read", "write"}
	entities := []string{"", "*", "s1", "s2"}
	perm := func(b0, b1 byte) Permission {
		return Permission{Module: modules[int(b0)%len(modules)], Action: actions[int(b0>>4)%len(actions)], Entity: entities[int(b1)%len(entities)]}
	}
	decode := func(b []byte) []string {
		var out []string
		for i := 0; i+1 < len(b) && i < 12; i += 2 {
			out = append(out, perm(b[i], b[i+1]).String())
		}
		return out
	}
	f.Fuzz(func(t *testing.T, tierBytes, explicitBytes, qBytes []byte, pkgIndex uint8, standard bool) {
		var tierPerms [2][]string
		for i, s := range decode(tierBytes) {
			if p := MustParsePermission(s); p.Module != AdminModule {
				tierPerms[i%2] = append(tierPerms[i%2], s)
			}
		}
		tiers, err := NewTiers([]Tier{{Name: "low", Permissions: tierPerms[0]}, {Name: "high", Permissions: tierPerms[1]}})
		if err != nil {
			t.Fatal(err)
		}
		if len(qBytes) < 2 {
			return
		}
		q := perm(qBytes[0], qBytes[1])
		pkg := []string{"low", "high", ""}[pkgIndex%3]
		explicit := MustNewGrants(decode(explicitBytes), nil, nil)
		for _, g := range []Grants{tiers.Effective(pkg, explicit, standard), explicit} {
			want := true
			for _, m := range []string{"admin", "stores", "products", "other"} {
				for _, a := range []string{"read", "write", "other"} {
					for _, e := range []string{"", "s1", "s2", "other"} {
						r := Permission{Module: m, Action: a, Entity: e}
						if q.Covers(r) && !g.Allows(r) {
							want = false
						}
					}
				}
			}
			if got := g.includesLimited(q); got != want {
				t.Fatalf("tiers %v, package %q, explicit %v (standard %v, limited %v): includes(%s) = %v, want %v",
					tierPerms, pkg, explicit.Permissions(), standard, g.tiers != nil, q, got, want)
			}
		}
	})
}

func TestIncludesLimited(t *testing.T) {
	retail := RetailTiers()
	enterprise, err := NewTiers([]Tier{{Name: "free", Permissions: []string{"stores:read"}}, {Name: "enterprise", Permissions: []string{"*:*"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		tiers    *Tiers
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
		g := tc.tiers.Effective(tc.pkg, MustNewGrants(tc.explicit, nil, nil), tc.explicit == nil)
		for _, s := range tc.yes {
			if !g.includesLimited(MustParsePermission(s)) {
				t.Errorf("%q %v: should include %s", tc.pkg, tc.explicit, s)
			}
		}
		for _, s := range tc.no {
			if g.includesLimited(MustParsePermission(s)) {
				t.Errorf("%q %v: should not include %s", tc.pkg, tc.explicit, s)
			}
		}
	}
}
