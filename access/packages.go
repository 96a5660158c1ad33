package access

import (
	"fmt"
	"slices"
)

// AdminModule is the module reserved for the operator permissions
// (admin:read, admin:write, admin:review, ...). No package ever includes a
// permission of this module: [NewPackages] refuses a package that names
// one, and [Packages.Allows] answers false for one even when a package
// grants the "*" module. So a credential holds an admin permission only
// through its own explicit grants (see [Packages.Effective]), never
// through its package.
const AdminModule = "admin"

// Package is one package (an account's commercial plan): its name and
// the permissions it adds to the packages below it.
type Package struct {
	// Name is 1 to 64 characters of A-Z, a-z, 0-9, '_', '-', compared
	// exactly: an account's or a credential's package is the name of a
	// Package.
	Name string
	// Permissions are the permissions this package adds; it also includes
	// everything the packages below it grant. May be empty (a package
	// that differs only in its rate limit, say). None may be of
	// [AdminModule]; a "*" module covers every module but that one.
	Permissions []string
}

// Packages is an ordered set of packages, lowest first, each including
// everything the lower ones grant. Build one with [NewPackages]; it is
// immutable and safe for concurrent use. A nil *Packages knows no
// package.
type Packages struct {
	names []string
	index map[string]int
	// cumulative[i] is everything package i grants, the lower ones'
	// included.
	cumulative []Grants
}

// NewPackages builds a package set from the packages in ascending order,
// lowest first. It refuses an empty list, an invalid or repeated name, a
// malformed permission and a permission of [AdminModule], with an error
// wrapping [ErrInvalidConfig] (and [ErrMalformedPermission]).
func NewPackages(ordered []Package) (*Packages, error) {
	if len(ordered) == 0 {
		return nil, fmt.Errorf("%w: no packages", ErrInvalidConfig)
	}
	ps := &Packages{index: make(map[string]int, len(ordered))}
	var acc []Permission
	for i, pkg := range ordered {
		if !validPackageName(pkg.Name) {
			return nil, fmt.Errorf("%w: package name %q must be 1 to 64 characters of A-Z, a-z, 0-9, '_', '-'", ErrInvalidConfig, clip(pkg.Name))
		}
		if _, dup := ps.index[pkg.Name]; dup {
			return nil, fmt.Errorf("%w: package %q defined twice", ErrInvalidConfig, pkg.Name)
		}
		for _, s := range pkg.Permissions {
			p, err := ParsePermission(s)
			if err != nil {
				return nil, fmt.Errorf("%w: package %q: %w", ErrInvalidConfig, pkg.Name, err)
			}
			if p.Module == AdminModule {
				return nil, fmt.Errorf("%w: package %q: the module %q is reserved for operators, never in a package", ErrInvalidConfig, pkg.Name, AdminModule)
			}
			if !slices.Contains(acc, p) {
				acc = append(acc, p)
			}
		}
		ps.index[pkg.Name] = i
		ps.names = append(ps.names, pkg.Name)
		ps.cumulative = append(ps.cumulative, Grants{perms: slices.Clip(slices.Clone(acc))})
	}
	return ps, nil
}

func validPackageName(s string) bool {
	if s == "" || len(s) > MaxPartLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '.' || !entityByte[c] {
			return false
		}
	}
	return true
}

// Names returns the package names in ascending order, lowest first.
func (ps *Packages) Names() []string {
	if ps == nil {
		return nil
	}
	return slices.Clone(ps.names)
}

// Has reports whether the package pkg is defined.
func (ps *Packages) Has(pkg string) bool {
	_, ok := ps.rank(pkg)
	return ok
}

// rank returns the position of the package pkg in the order.
func (ps *Packages) rank(pkg string) (int, bool) {
	if ps == nil {
		return 0, false
	}
	i, ok := ps.index[pkg]
	return i, ok
}

// Reaches reports whether the package pkg is at or above the package
// minimum. An unknown package, pkg or minimum, reaches nothing. It
// allocates nothing.
func (ps *Packages) Reaches(pkg, minimum string) bool {
	p, ok := ps.rank(pkg)
	if !ok {
		return false
	}
	r, ok := ps.rank(minimum)
	return ok && p >= r
}

// Allows reports whether the package pkg includes the required permission,
// its own and every lower package's permissions counted (see
// [Permission.Covers]). An unknown package allows nothing, and no package
// allows a permission of [AdminModule], not even through a "*" module. It
// allocates nothing.
func (ps *Packages) Allows(pkg string, required Permission) bool {
	p, ok := ps.rank(pkg)
	return ok && required.Module != AdminModule && ps.cumulative[p].Allows(required)
}

// Permissions returns everything the package pkg includes, lower packages
// included, or nil for an unknown package.
func (ps *Packages) Permissions(pkg string) []string {
	p, ok := ps.rank(pkg)
	if !ok {
		return nil
	}
	return ps.cumulative[p].Permissions()
}

// MinPackage returns the lowest package that includes the required
// permission, so that a route table can derive a route's minimum package
// from its permission. It returns false when no package includes it
// (always for [AdminModule]).
func (ps *Packages) MinPackage(required Permission) (string, bool) {
	if ps == nil || required.Module == AdminModule {
		return "", false
	}
	for i, g := range ps.cumulative {
		if g.Allows(required) {
			return ps.names[i], true
		}
	}
	return "", false
}
