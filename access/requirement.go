package access

import (
	"fmt"
	"strings"
)

// EntityPlaceholder, as the whole entity part of a requirement's
// permission ("stores:read:{entity}"), stands for the request's entity,
// given to Check: a path value or the selected store.
const EntityPlaceholder = "{entity}"

// ReasonInsufficientScope is the reason code of every refusal, for the 403
// response (the error code of RFC 6750 §3.1).
const ReasonInsufficientScope = "insufficient_scope"

// ForbiddenError is the error of a refused check. It wraps [ErrForbidden];
// its reason for clients is always [ReasonInsufficientScope], and its
// detail, for logs only, says which condition failed.
type ForbiddenError struct {
	detail string
}

// The refusals, preallocated so that Check allocates nothing.
var (
	errLowPackage   = &ForbiddenError{"package below the required minimum"}
	errNoPermission = &ForbiddenError{"permission not granted"}
	errBadEntity    = &ForbiddenError{"missing or malformed entity"}
	errNoRule       = &ForbiddenError{"invalid requirement"}
)

// Error returns a message with the reason and the detail.
func (e *ForbiddenError) Error() string {
	return "access: forbidden (" + ReasonInsufficientScope + "): " + e.detail
}

// Is makes errors.Is(err, ErrForbidden) hold.
func (e *ForbiddenError) Is(target error) bool { return target == ErrForbidden }

// Reason returns [ReasonInsufficientScope], the code to send to clients.
func (e *ForbiddenError) Reason() string { return ReasonInsufficientScope }

// Detail says which condition failed: the package, the permission, the entity
// or the requirement itself. For logs, not for clients.
func (e *ForbiddenError) Detail() string { return e.detail }

// Requirement is what a route needs: a permission (optionally with
// [EntityPlaceholder] as its entity) and/or a minimum package. Either may be
// empty, not both. Prefer compiling it once with [ParseRequirement] or
// [Requirement.Compile]; [Requirement.Check] parses on every call.
type Requirement struct {
	// Permission is the required permission, concrete (no wildcard), or
	// empty for none.
	Permission string
	// Package is the lowest package that reaches the route (the minimum
	// package it requires), or empty for none.
	Package string
}

// Compile is [ParseRequirement] for r.
func (r Requirement) Compile(packages *Packages) (CompiledRequirement, error) {
	return ParseRequirement(r.Permission, r.Package, packages)
}

// Check compiles r against packages and checks it (see
// [CompiledRequirement.Check]). A requirement that does not compile is a
// refusal too: the error wraps [ErrForbidden] and the compile error.
func (r Requirement) Check(pkg string, g Grants, packages *Packages, entity string) error {
	c, err := r.Compile(packages)
	if err != nil {
		return fmt.Errorf("%w: %w", errNoRule, err)
	}
	return c.Check(pkg, g, entity)
}

// CompiledRequirement is a validated [Requirement], ready for the request
// path. The zero CompiledRequirement refuses everything.
type CompiledRequirement struct {
	src        Requirement
	perm       Permission
	hasPerm    bool
	fromEntity bool // perm.Entity comes from the request
	packages   *Packages
	minRank    int  // the rank of the minimum package
	hasMin     bool // whether a minimum package is required
	valid      bool
}

// ParseRequirement validates a route's requirement once: perm is empty or a
// concrete permission ("offers:write", "stores:read:store_1",
// "stores:read:{entity}"), pkg is empty or the name of a package of
// packages, the minimum package. It refuses a requirement of nothing, a
// wildcard and an unknown package, with errors wrapping
// [ErrInvalidConfig], [ErrMalformedPermission] or [ErrUnknownPackage].
func ParseRequirement(perm, pkg string, packages *Packages) (CompiledRequirement, error) {
	c := CompiledRequirement{src: Requirement{Permission: perm, Package: pkg}, packages: packages}
	if perm == "" && pkg == "" {
		return CompiledRequirement{}, fmt.Errorf("%w: a requirement needs a permission or a package", ErrInvalidConfig)
	}
	if perm != "" {
		s := perm
		if base, ok := strings.CutSuffix(perm, ":"+EntityPlaceholder); ok {
			c.fromEntity = true
			s = base
		}
		p, err := ParsePermission(s)
		if err != nil {
			return CompiledRequirement{}, err
		}
		if c.fromEntity && p.Entity != "" {
			return CompiledRequirement{}, malformed(perm, "too many parts")
		}
		if !p.Concrete() {
			return CompiledRequirement{}, fmt.Errorf("%w: required permission %q has a wildcard", ErrInvalidConfig, perm)
		}
		c.perm, c.hasPerm = p, true
	}
	if pkg != "" {
		r, ok := packages.rank(pkg)
		if !ok {
			return CompiledRequirement{}, fmt.Errorf("%w %q", ErrUnknownPackage, clip(pkg))
		}
		c.minRank, c.hasMin = r, true
	}
	c.valid = true
	return c, nil
}

// MustParseRequirement is [ParseRequirement] for constants: it panics on
// an error.
func MustParseRequirement(perm, pkg string, packages *Packages) CompiledRequirement {
	c, err := ParseRequirement(perm, pkg, packages)
	if err != nil {
		panic(err)
	}
	return c
}

// Requirement returns the requirement c was compiled from.
func (c CompiledRequirement) Requirement() Requirement { return c.src }

// NeedsEntity reports whether the permission's entity comes from the
// request ([EntityPlaceholder]).
func (c CompiledRequirement) NeedsEntity() bool { return c.fromEntity }

// String returns the requirement for logs, for example
// "offers:write (package GO)".
func (c CompiledRequirement) String() string {
	switch {
	case !c.valid:
		return "(invalid requirement)"
	case c.src.Package == "":
		return c.src.Permission
	case c.src.Permission == "":
		return "package " + c.src.Package
	}
	return c.src.Permission + " (package " + c.src.Package + ")"
}

// Check returns nil when a key of package pkg holding g meets the
// requirement, or a [*ForbiddenError] wrapping [ErrForbidden]:
//
//   - the minimum package, if any: pkg must be at or above it
//     ([Packages.Reaches]); an unknown package reaches nothing;
//   - the permission, if any: g must allow it ([Grants.Allows]). When its
//     entity is [EntityPlaceholder], entity takes its place; an empty or
//     malformed entity, or "*", is refused. Otherwise entity is ignored.
//
// The package bounds the routes a key reaches through the minimum
// package; the permission is checked against the key's own grants only
// (use [Packages.MinPackage] to derive a route's minimum package from
// its permission).
// Check does no parsing and allocates nothing.
func (c CompiledRequirement) Check(pkg string, g Grants, entity string) error {
	if !c.valid {
		return errNoRule
	}
	if c.hasMin {
		r, ok := c.packages.rank(pkg)
		if !ok || r < c.minRank {
			return errLowPackage
		}
	}
	if c.hasPerm {
		p := c.perm
		if c.fromEntity {
			if !validEntity(entity) {
				return errBadEntity
			}
			p.Entity = entity
		}
		if !g.Allows(p) {
			return errNoPermission
		}
	}
	return nil
}
