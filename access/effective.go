package access

import (
	"slices"
	"strings"
)

// Effective returns what a credential of the package pkg effectively
// holds, for [CompiledRequirement.Check] and for display
// ([Grants.Permissions]). There are two kinds of credential:
//
//   - A standard credential (standard true: the credential names no
//     permission of its own, and explicit is ignored) holds what its
//     package includes ([Packages.Allows]): never a permission of
//     [AdminModule].
//   - A restricted credential (standard false: it names permissions, in
//     Stripe's term) holds its explicit permissions intersected with its
//     package's, except the permissions that no package includes at all
//     ("unpackaged": every permission of [AdminModule], and any the
//     service placed in no package), which its explicit grants alone decide.
//     An operator key "*:*" thus holds everything its package includes
//     plus every unpackaged permission (admin:*), and a key holding
//     analytics:export on a package without it holds nothing.
//
// An unknown package includes nothing. A nil *Packages includes nothing
// either, so that every permission is unpackaged: a restricted credential
// holds exactly its explicit grants and a standard one nothing.
//
// explicit must come from [NewGrants] (roles expanded there): effective
// grants passed as explicit ones grant nothing (fail closed).
//
// [Grants.Permissions] of the result is a canonical list: for a standard
// credential, the package's permissions ([Packages.Permissions]; a package entry
// with a "*" module there never covers [AdminModule]); for a restricted
// one, first what it holds of its package (each package permission
// narrowed to the explicit grants, "stores:read" and explicit
// "stores:*:store_1" giving "stores:read:store_1"; none more general than
// another is repeated), then its explicit permissions that reach beyond
// every package, as written: such an entry holds only what no package
// includes ("*:*" there means admin:* and the unpackaged permissions, not
// what the package leaves out). Building a restricted credential's grants
// from its canonical list gives the same grants again (the same
// permissions, perhaps in another order).
//
// Effective allocates; the result shares memory with ps and explicit, and
// its Allows allocates nothing: compute it once per credential and
// package, not per request.
func (ps *Packages) Effective(pkg string, explicit Grants, standard bool) Grants {
	switch {
	case ps == nil && standard:
		return Grants{}
	case !standard && explicit.packages != nil:
		return Grants{}
	case ps == nil:
		return explicit
	}
	var included []Permission
	if r, ok := ps.rank(pkg); ok {
		included = ps.cumulative[r].perms
	}
	if standard {
		return Grants{perms: included, packages: ps}
	}
	g := Grants{packages: ps}
	for _, p := range included {
		for _, e := range explicit.perms {
			if m, ok := meet(p, e); ok && m.Module != AdminModule {
				g.perms = addMostGeneral(g.perms, m)
			}
		}
	}
	for _, e := range explicit.perms {
		if !ps.Packaged(e) && !slices.Contains(g.beyond, e) {
			g.beyond = append(g.beyond, e)
		}
	}
	return g
}

// RolePrefix marks a role in a credential's permission list: the entry
// "@name" stands for the permissions of role name.
const RolePrefix = "@"

// ForCredential returns the effective grants of a credential of the
// package pkg whose stored permission list is permissions: entries
// starting with [RolePrefix] name roles of defs, the others are
// permissions. An empty list makes a standard credential; a list that
// does not parse (a malformed permission, an unknown role) makes a
// restricted credential that holds nothing. See [Packages.Effective].
func (ps *Packages) ForCredential(pkg string, permissions []string, defs Roles) Grants {
	var perms, roles []string
	for _, e := range permissions {
		if name, ok := strings.CutPrefix(e, RolePrefix); ok {
			roles = append(roles, name)
		} else {
			perms = append(perms, e)
		}
	}
	explicit, _ := NewGrants(perms, roles, defs) // on error: the zero Grants allow nothing
	return ps.Effective(pkg, explicit, len(permissions) == 0)
}

// allowsLimited is [Grants.Allows] for effective grants: perms never cover
// an admin permission (no package includes one), and beyond counts only
// where no package includes the permission.
func (g Grants) allowsLimited(required Permission) bool {
	if required.Module == AdminModule {
		return coversAny(g.beyond, required)
	}
	if coversAny(g.perms, required) {
		return true
	}
	return len(g.beyond) > 0 && coversAny(g.beyond, required) && !g.packages.packaged(required)
}

// packaged reports whether some package includes the required permission:
// the highest package includes everything below it.
func (ps *Packages) packaged(required Permission) bool {
	return ps.Allows(ps.names[len(ps.names)-1], required)
}

// allEntities reports whether a granted entity part covers every entity
// (and the entity-less permission): empty or [Wildcard].
func allEntities(e string) bool { return e == "" || e == Wildcard }

// meet returns the granted permission that covers exactly what both a and
// b cover, in a's form where they agree, and false when they cover nothing
// in common.
func meet(a, b Permission) (Permission, bool) {
	var m Permission
	var ok bool
	if m.Module, ok = meetPart(a.Module, b.Module); !ok {
		return Permission{}, false
	}
	if m.Action, ok = meetPart(a.Action, b.Action); !ok {
		return Permission{}, false
	}
	switch {
	case allEntities(b.Entity):
		m.Entity = a.Entity
	case allEntities(a.Entity) || a.Entity == b.Entity:
		m.Entity = b.Entity
	default:
		return Permission{}, false
	}
	return m, true
}

// meetPart is meet for a module or an action.
func meetPart(a, b string) (string, bool) {
	switch {
	case b == Wildcard || a == b:
		return a, true
	case a == Wildcard:
		return b, true
	}
	return "", false
}

// addMostGeneral adds p to list unless an entry covers it already; p
// takes the place of the first entry it covers, and the others it covers
// are dropped.
func addMostGeneral(list []Permission, p Permission) []Permission {
	for _, q := range list {
		if q.Includes(p) {
			return list
		}
	}
	i := slices.IndexFunc(list, func(q Permission) bool { return p.Includes(q) })
	if i < 0 {
		return append(list, p)
	}
	list[i] = p
	return slices.DeleteFunc(list, func(q Permission) bool { return q != p && p.Includes(q) })
}

// includesLimited reports whether effective grants (from
// [Packages.Effective]) allow every permission that the granted permission q
// covers, q possibly with wildcards: what a check that a caller grants
// only what it holds needs when the caller's grants are effective ones.
// For grants from [NewGrants] the answer is whether one granted
// permission covers everything q does.
//
// The permissions q covers that some package includes must be covered by
// perms (beyond never gives a packaged permission), and the others (every
// admin permission among them) by beyond, perms giving none of them. Both
// reduce to "one permission covers the whole part": a part with a
// wildcard ranges over more values than a finite union names.
func (g Grants) includesLimited(q Permission) bool {
	if g.packages == nil {
		return slices.ContainsFunc(g.perms, func(p Permission) bool { return p.Includes(q) })
	}
	// The packaged part: q's meet with each permission of the top package,
	// admin permissions aside (no package includes them).
	top := g.packages.cumulative[len(g.packages.cumulative)-1].perms
	for _, t := range top {
		x, ok := meet(q, t) // q's permissions that t includes
		if !ok || x.Module == AdminModule {
			continue
		}
		if !slices.ContainsFunc(g.perms, func(p Permission) bool { return p.Includes(x) }) {
			return false
		}
	}
	// The unpackaged part: a permission of q that no package includes is
	// allowed only through beyond. With the "*" or the admin module, q
	// covers admin permissions, which no package includes: beyond must
	// cover q (a "*" module there covering q's other permissions too, as
	// they are covered by perms only through an explicit "*" module,
	// itself in beyond).
	if g.packages.Packaged(q) {
		return true // q is wholly packaged, and perms cover it
	}
	return slices.ContainsFunc(g.beyond, func(b Permission) bool { return b.Includes(q) })
}

// Packaged reports whether some package of ps includes everything the
// permission p covers, so that a standard credential (which holds exactly
// its package) could hold it: never for [AdminModule], for a "*" module
// (which covers admin permissions too), or with a nil *Packages. A token of a
// key that became standard keeps only its packaged permissions. It
// allocates nothing.
//
// A union of permissions with wildcards includes p only if one of them
// does (p's wildcard parts range over more values than the union names).
func (ps *Packages) Packaged(p Permission) bool {
	if ps == nil || len(ps.cumulative) == 0 || p.Module == AdminModule || p.Module == Wildcard {
		return false
	}
	top := ps.cumulative[len(ps.cumulative)-1].perms
	return slices.ContainsFunc(top, func(g Permission) bool { return g.Includes(p) })
}
