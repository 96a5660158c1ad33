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
	f.Fuzz(func(t *testing.T, pkgBytes, explicitBytes, qBytes []byte, pkgIndex uint8, standard bool) {
		var pkgPerms [2][]string
		for i, s := range decode(pkgBytes) {
			if p := MustParsePermission(s); p.Module != AdminModule {
				pkgPerms[i%2] = append(pkgPerms[i%2], s)
			}
		}
		packages, err := NewPackages([]Package{{Name: "low", Permissions: pkgPerms[0]}, {Name: "high", Permissions: pkgPerms[1]}})
		if err != nil {
			t.Fatal(err)
		}
		if len(qBytes) < 2 {
			return
		}
		q := perm(qBytes[0], qBytes[1])
		pkg := []string{"low", "high", ""}[pkgIndex%3]
		explicit := MustNewGrants(decode(explicitBytes), nil, nil)
		for _, g := range []Grants{packages.Effective(pkg, explicit, standard), explicit} {
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
				t.Fatalf("packages %v, package %q, explicit %v (standard %v, limited %v): includes(%s) = %v, want %v",
					pkgPerms, pkg, explicit.Permissions(), standard, g.packages != nil, q, got, want)
			}
		}
	})
}
