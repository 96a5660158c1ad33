package access

import (
	"fmt"
	"slices"
	"sort"
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
type Grants struct {
	perms []Permission
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
// [Permission.Covers]). It allocates nothing.
func (g Grants) Allows(required Permission) bool {
	for i := range g.perms {
		if g.perms[i].Covers(required) {
			return true
		}
	}
	return false
}

// Includes reports whether some granted permission includes requested,
// which may hold wildcards (see [Permission.Includes]): whether the holder
// of g may give requested to another credential. On a concrete requested
// permission it agrees with [Grants.Allows]. It allocates nothing.
func (g Grants) Includes(requested Permission) bool {
	for i := range g.perms {
		if g.perms[i].Includes(requested) {
			return true
		}
	}
	return false
}

// Permissions returns the granted permissions, roles expanded, in the order
// they were first seen, for audit logs and introspection.
func (g Grants) Permissions() []string {
	out := make([]string, len(g.perms))
	for i, p := range g.perms {
		out[i] = p.String()
	}
	return out
}

// Len returns the number of distinct granted permissions.
func (g Grants) Len() int { return len(g.perms) }
