package access

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Roles maps a role name to the permissions the role grants. Role names
// follow the syntax of a module (1 to 64 characters of a-z, 0-9, '_', '-'),
// so "Admin" is never a role; roles do not nest. Check a definition at
// start-up with [Roles.Validate]; [NewGrants] checks the roles it expands.
type Roles map[string][]string

// Validate checks every role name and every permission of every role. The
// error wraps [ErrInvalidConfig], and [ErrMalformedPermission] for a
// malformed permission.
func (r Roles) Validate() error {
	names := make([]string, 0, len(r))
	for name := range r {
		names = append(names, name)
	}
	sort.Strings(names) // deterministic errors
	for _, name := range names {
		if !validName(name) {
			return fmt.Errorf("%w: role name %q must be 1 to 64 characters of a-z, 0-9, '_', '-'", ErrInvalidConfig, clip(name))
		}
		for _, s := range r[name] {
			if _, err := ParsePermission(s); err != nil {
				return fmt.Errorf("%w: role %q: %w", ErrInvalidConfig, name, err)
			}
		}
	}
	return nil
}

// Grants is the set of permissions a key or token holds, its roles
// expanded. The zero Grants allows nothing. A Grants is immutable.
//
// Grants from [NewGrants] are a credential's own (explicit) grants;
// [Packages.Effective] limits them by a package (see there), and
// [Grants.Allows] answers for either kind.
type Grants struct {
	perms []Permission
	// packages is set on effective grants ([Packages.Effective]): then
	// perms never cover a permission of [AdminModule], and beyond counts
	// only for permissions that no package of packages includes.
	packages *Packages
	beyond   []Permission
}

// NewGrants expands roles through defs and parses every permission, the
// direct ones and the roles' ones. An unknown role (including one named in
// the wrong case) or a malformed permission makes it fail with an error
// wrapping [ErrUnknownRole] or [ErrMalformedPermission], and the zero
// Grants: a malformed claim never grants anything. Duplicates are dropped.
func NewGrants(perms []string, roles []string, defs Roles) (Grants, error) {
	out := make([]Permission, 0, len(perms))
	add := func(s string) error {
		p, err := ParsePermission(s)
		if err != nil {
			return err
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
		return nil
	}
	for _, s := range perms {
		if err := add(s); err != nil {
			return Grants{}, err
		}
	}
	for _, role := range roles {
		def, ok := defs[role]
		if !ok || !validName(role) {
			return Grants{}, fmt.Errorf("%w %q", ErrUnknownRole, clip(role))
		}
		for _, s := range def {
			if err := add(s); err != nil {
				return Grants{}, fmt.Errorf("role %q: %w", role, err)
			}
		}
	}
	return Grants{perms: out}, nil
}

// MustNewGrants is [NewGrants] for constants: it panics on an error.
func MustNewGrants(perms []string, roles []string, defs Roles) Grants {
	g, err := NewGrants(perms, roles, defs)
	if err != nil {
		panic(err)
	}
	return g
}

// Allows reports whether some granted permission covers required (see
// [Permission.Covers]); for effective grants, within the limits of
// [Packages.Effective]. It allocates nothing.
func (g Grants) Allows(required Permission) bool {
	if g.packages != nil {
		return g.allowsLimited(required)
	}
	return coversAny(g.perms, required)
}

// coversAny reports whether some permission of perms covers required.
func coversAny(perms []Permission, required Permission) bool {
	for i := range perms {
		if perms[i].Covers(required) {
			return true
		}
	}
	return false
}

// Includes reports whether some granted permission includes requested,
// which may hold wildcards (see [Permission.Includes]): whether the holder
// of g may give requested to another credential. On a concrete requested
// permission it agrees with [Grants.Allows]. On effective grants
// ([Packages.Effective]) it counts the package part and the unpackaged part
// as Allows does. It allocates nothing.
func (g Grants) Includes(requested Permission) bool {
	return g.includesLimited(requested)
}

// Permissions returns the granted permissions, roles expanded, in the order
// they were first seen, for audit logs and introspection. For effective
// grants it is the canonical list of [Packages.Effective].
func (g Grants) Permissions() []string {
	out := make([]string, 0, len(g.perms)+len(g.beyond))
	for _, p := range g.perms {
		out = append(out, p.String())
	}
	for _, p := range g.beyond {
		if s := p.String(); !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// Len returns the number of distinct granted permissions (for effective
// grants: of the list [Grants.Permissions] returns).
func (g Grants) Len() int {
	n := len(g.perms)
	for _, p := range g.beyond {
		if !slices.Contains(g.perms, p) {
			n++
		}
	}
	return n
}

// ListIncludes reports whether a stored permission list includes p, a
// permission that may hold wildcards, as [Grants.Includes] decides it for
// list's permissions: p itself is in list, or some permission of list
// covers all of p. A "@role" entry of list includes only the same entry,
// and an entry that does not parse includes nothing (fail closed). It is
// for narrowing one stored list by another (a token's permissions by its
// client key's), where the roles are not at hand; it allocates nothing.
func ListIncludes(list []string, p string) bool {
	if slices.Contains(list, p) {
		return true
	}
	if strings.HasPrefix(p, RolePrefix) {
		return false
	}
	q, err := ParsePermission(p)
	if err != nil {
		return false
	}
	for _, s := range list {
		if strings.HasPrefix(s, RolePrefix) {
			continue
		}
		if g, err := ParsePermission(s); err == nil && g.Includes(q) {
			return true
		}
	}
	return false
}
