// Package access is the permission model: permissions, roles, packages
// and the requirements that routes declare. It is pure (no HTTP): the
// middleware turns its answers into responses.
//
// # Permissions
//
// A permission names a module and an action, optionally an entity:
//
//	products:read          read products (every entity)
//	offers:write           write offers
//	stores:read:store_42   read store store_42 only
//	stores:*               every action on stores
//	*:*                    everything
//
// Module and action are 1 to 64 characters of lower-case a-z, 0-9, '_' and
// '-'; the entity is 1 to 64 characters of A-Z, a-z, 0-9, '_', '.' and '-'
// (entity IDs are compared exactly, so Store_42 and store_42 are different
// entities). Any part may instead be "*" as a whole, a wildcard; partial
// wildcards such as "prod*" are malformed. Parsing is strict: "Admin:read",
// spaces, empty parts and extra colons are refused with an error wrapping
// [ErrMalformedPermission]; see [ParsePermission].
//
// A granted permission covers a required one ([Permission.Covers]) when each
// part is equal or granted as "*"; a granted permission without an entity
// (or with entity "*") covers every entity of its module and action, while
// an entity-scoped grant covers only that entity and not the entity-less
// permission (stores:read:store_42 does not cover stores:read, the list of
// all stores). A required permission is always concrete: one with a
// wildcard or an empty module or action is covered by nothing.
//
// # Roles and grants
//
// [Roles] names sets of permissions (role names are lower case, like
// module names; roles do not nest). Keys and tokens carry roles and/or
// permissions; [NewGrants] expands and checks them once, and
// [Grants.Allows] answers on the request path without allocating. Default
// deny throughout: an unknown role, a malformed permission or a role name
// in the wrong case makes [NewGrants] fail, and the zero [Grants] allows
// nothing.
//
// # Packages
//
// A package is an account's commercial plan (elsewhere called a tier or
// a plan): keygate uses this one word throughout, for the Package of an
// account, of a credential and of a keygate.Principal, in the admin API
// and here (one exception: keygate serve's configuration file accepts
// tier, the file format's first name, as a route's package key).
// Packages are ordered, lowest first, each including everything the lower
// ones grant: the service defines its own with [NewPackages]
// from a list of [Package] values, into a [Packages] set. A route may
// require a minimum package, which a credential's package (its
// account's) must reach ([Packages.Reaches]); and a package includes
// permissions ([Packages.Allows]).
//
// The package bounds what a credential holds ([Packages.Effective]): a
// standard credential (one without permissions of its own) holds what its
// package includes; a restricted one holds its own permissions
// intersected with its package's, except the permissions that no package
// includes, which its own grants alone decide. The module [AdminModule]
// is reserved: no package ever includes an admin permission, so only a
// credential's explicit grants give one (an operator key "*:*" holds its
// package and admin:*).
//
// # Requirements
//
// A route declares a [Requirement]: a permission and/or a minimum
// package. [ParseRequirement] validates it once, at start-up, into a
// [CompiledRequirement] whose Check does no parsing and no allocation on
// the request path. The requirement's entity may be the placeholder
// [EntityPlaceholder], "{entity}", replaced at check time by the request's
// entity (a path value or the selected store). A refusal wraps
// [ErrForbidden]; its reason for clients is always
// [ReasonInsufficientScope].
//
// All types are immutable once built and safe for concurrent use.
package access
