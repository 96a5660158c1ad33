package access

import (
	"errors"
	"fmt"
	"strings"
)

// Errors. Every error the package returns wraps one of them.
var (
	// ErrMalformedPermission is wrapped by every error about a permission
	// string that does not follow the syntax.
	ErrMalformedPermission = errors.New("access: malformed permission")
	// ErrUnknownRole is wrapped when a key or token names a role that is
	// not defined, including a role name in the wrong case.
	ErrUnknownRole = errors.New("access: unknown role")
	// ErrUnknownPackage is wrapped when a requirement names a package that
	// the package set does not define.
	ErrUnknownPackage = errors.New("access: unknown package")
	// ErrInvalidConfig is wrapped by errors about role definitions,
	// package sets and requirements that cannot be used.
	ErrInvalidConfig = errors.New("access: invalid configuration")
	// ErrForbidden is wrapped by every refusal of [CompiledRequirement.Check]
	// and [Requirement.Check]. The errors are [*ForbiddenError] values.
	ErrForbidden = errors.New("access: forbidden")
)

const (
	// Wildcard, as a whole part of a granted permission, matches any value
	// of that part.
	Wildcard = "*"
	// MaxPartLen is the longest module, action or entity.
	MaxPartLen = 64
	// maxPermissionLen is the longest well-formed permission string.
	maxPermissionLen = 3*MaxPartLen + 2
	// maxQuoted is how much of a refused string an error quotes.
	maxQuoted = maxPermissionLen + 1
)

// Byte classes: names (modules, actions, roles) and entities.
var nameByte, entityByte = func() (name, entity [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		name[c], entity[c] = true, true
	}
	for c := 'A'; c <= 'Z'; c++ {
		entity[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		name[c], entity[c] = true, true
	}
	for _, c := range "_-" {
		name[c], entity[c] = true, true
	}
	entity['.'] = true
	return
}()

// Permission is a parsed permission: module, action and an optional entity
// (empty when absent). Any part may be [Wildcard]. Build one with
// [ParsePermission]; a literal is fine for a required permission, which
// must be concrete (see [Permission.Covers]).
type Permission struct {
	Module string
	Action string
	// Entity is empty for a permission about every entity.
	Entity string
}

// ParsePermission parses "module:action" or "module:action:entity" (see the
// package documentation for the syntax). It is strict: "Admin:read",
// "products: read", "products:", "products::read" and "a:b:c:d" are refused
// with an error wrapping [ErrMalformedPermission], and the zero Permission.
func ParsePermission(s string) (Permission, error) {
	if s == "" {
		return Permission{}, malformed(s, "empty")
	}
	if len(s) > maxPermissionLen {
		return Permission{}, malformed(s, "too long")
	}
	module, rest, ok := strings.Cut(s, ":")
	if !ok {
		return Permission{}, malformed(s, "want module:action or module:action:entity")
	}
	action, entity, hasEntity := strings.Cut(rest, ":")
	if hasEntity && strings.IndexByte(entity, ':') >= 0 {
		return Permission{}, malformed(s, "too many parts")
	}
	if reason := checkPart(module, &nameByte); reason != "" {
		return Permission{}, malformed(s, "module "+reason)
	}
	if reason := checkPart(action, &nameByte); reason != "" {
		return Permission{}, malformed(s, "action "+reason)
	}
	if hasEntity {
		if reason := checkPart(entity, &entityByte); reason != "" {
			return Permission{}, malformed(s, "entity "+reason)
		}
	}
	return Permission{Module: module, Action: action, Entity: entity}, nil
}

// MustParsePermission is [ParsePermission] for constants: it panics on a
// malformed permission.
func MustParsePermission(s string) Permission {
	p, err := ParsePermission(s)
	if err != nil {
		panic(err)
	}
	return p
}

// checkPart returns why part is not a valid part, or "".
func checkPart(part string, allowed *[256]bool) string {
	switch {
	case part == Wildcard:
		return ""
	case part == "":
		return "is empty"
	case len(part) > MaxPartLen:
		return "is longer than 64 characters"
	}
	for i := 0; i < len(part); i++ {
		if !allowed[part[i]] {
			if part[i] == '*' {
				return "has a partial wildcard"
			}
			return "has a character outside the allowed set"
		}
	}
	return ""
}

// validName reports whether s is a valid role name: the syntax of a module.
func validName(s string) bool {
	return s != Wildcard && checkPart(s, &nameByte) == ""
}

// validEntity reports whether s is a concrete entity.
func validEntity(s string) bool {
	return s != Wildcard && checkPart(s, &entityByte) == ""
}

func malformed(s, reason string) error {
	return fmt.Errorf("%w %q: %s", ErrMalformedPermission, clip(s), reason)
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > maxQuoted {
		return s[:maxQuoted] + "..."
	}
	return s
}

// String returns the permission in the syntax [ParsePermission] reads:
// ParsePermission(p.String()) returns p for every parsed p.
func (p Permission) String() string {
	if p.Entity == "" {
		return p.Module + ":" + p.Action
	}
	return p.Module + ":" + p.Action + ":" + p.Entity
}

// Concrete reports whether p can be required: module and action are set and
// no part is a wildcard.
func (p Permission) Concrete() bool {
	return p.Module != "" && p.Action != "" &&
		p.Module != Wildcard && p.Action != Wildcard && p.Entity != Wildcard
}

// Covers reports whether the granted permission covers the required one:
// module and action are each equal or granted as [Wildcard], and the
// granted entity is empty, [Wildcard] or equal to the required entity. An
// entity-scoped grant does not cover a required permission without entity.
// A required permission that is not [Permission.Concrete] is covered by
// nothing, and an empty granted part matches nothing. Covers allocates
// nothing.
func (granted Permission) Covers(required Permission) bool {
	if !required.Concrete() {
		return false
	}
	if granted.Module != Wildcard && granted.Module != required.Module {
		return false
	}
	if granted.Action != Wildcard && granted.Action != required.Action {
		return false
	}
	return granted.Entity == "" || granted.Entity == Wildcard || granted.Entity == required.Entity
}

// Includes reports whether the granted permission includes the requested
// one, which may hold wildcards: whether whoever holds granted may give
// requested to another credential. Each requested part must be granted
// as [Wildcard] or equal: a requested wildcard part is included only by a
// granted wildcard ("orders:*" includes "orders:read" and "orders:*", not
// "*:*"; "orders:read" does not include "orders:*"). A requested
// permission without entity, or with the [Wildcard] entity, is about
// every entity, so only a grant without entity or with the wildcard
// entity includes it; a concrete requested entity is included by those
// and by the same entity. A requested permission with an empty module or
// action is included by nothing, and an empty granted part matches
// nothing. On a [Permission.Concrete] requested permission, Includes
// agrees with [Permission.Covers]. It allocates nothing.
func (granted Permission) Includes(requested Permission) bool {
	if requested.Module == "" || requested.Action == "" {
		return false
	}
	if granted.Module != Wildcard && granted.Module != requested.Module {
		return false
	}
	if granted.Action != Wildcard && granted.Action != requested.Action {
		return false
	}
	switch granted.Entity {
	case "", Wildcard:
		return true
	}
	return requested.Entity != "" && requested.Entity != Wildcard && granted.Entity == requested.Entity
}
