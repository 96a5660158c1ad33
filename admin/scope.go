package admin

import (
	"context"
	"errors"
	"net/http"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/access"
	"github.com/keygate/keygate/account"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/httpsig"
)

// A caller grants only what it holds: the permissions a call gives to a
// credential (at creation, update and rotation), and the package an
// account is moved to, must be included in the caller's own effective
// permissions, as the middleware enforces them ([middleware.Authenticator.Grants]),
// with the wildcard rules of [access.Permission.Includes]. And no
// credential changes itself: its permissions, status, expiry or origin
// rules (revoking itself is allowed).

// errSelf answers a call by a credential on itself.
var errSelf = newError(http.StatusForbidden, CodeSelfModification,
	"a credential cannot update, rotate, disable, enable or approve itself; use another admin credential")

// insufficientScope is the error for a permission the caller does not
// hold, naming it under field. A permission is echoed only once parsed:
// it is then a short string of a strict syntax, never a secret.
func insufficientScope(field, msg string) *Error {
	e := newError(http.StatusForbidden, CodeInsufficientScope,
		"the call would give permissions the caller does not hold; see fields")
	e.Fields = map[string]string{field: msg}
	return e
}

// callerGrants returns the effective permissions of the authenticated
// caller: what the middleware enforces for it.
func (h *Handler) callerGrants(ctx context.Context) access.Grants {
	if st, ok := callFrom(ctx); ok {
		return st.caller.Grants // a caller of Do: what the service vouches for
	}
	p, ok := keygate.FromContext(ctx)
	if !ok {
		return access.Grants{}
	}
	return h.cfg.Auth.Grants(p)
}

// isSelf reports whether the caller is the credential id: an API key or
// HMAC credential calling with itself, or an access token obtained with
// it (the Principal's KeyID is then the client key).
func isSelf(ctx context.Context, id string) bool {
	p, ok := keygate.FromContext(ctx)
	return ok && p.KeyID != "" && p.KeyID == id
}

// notHeld returns the first permission of perms that held does not
// include, and whether there is one, for an error message. A string that
// does not parse is not held, and is named by a placeholder, never echoed
// (the handler validates permissions before; a stored "@role" entry is
// expanded by the middleware, never given here).
func notHeld(held access.Grants, perms []string) (string, bool) {
	for _, s := range perms {
		p, err := access.ParsePermission(s)
		if err != nil {
			return "(a permission that does not parse)", true
		}
		if !held.Includes(p) {
			return s, true
		}
	}
	return "", false
}

// packagePermissions returns what the package pkg grants a credential
// without explicit permissions (a standard key), or nil when the service
// knows no such package (the Authenticator's AccessConfig.Packages nil, or
// an unknown name).
func (h *Handler) packagePermissions(pkg string) []string {
	return h.cfg.Auth.Packages().Permissions(pkg)
}

// checkGives checks that the caller holds everything a new or updated
// credential gets: its explicit permissions (direct ones under
// "permissions", those the roles add under "roles"), or, when it has
// none, its package's permissions. direct are the permissions the request
// named, all those with the roles expanded.
func (h *Handler) checkGives(ctx context.Context, direct, all []string, pkg string) error {
	held := h.callerGrants(ctx)
	if s, ok := notHeld(held, direct); ok {
		return insufficientScope("permissions", s+" is not among the caller's own permissions")
	}
	if s, ok := notHeld(held, all); ok {
		return insufficientScope("roles", "a role grants "+s+", which is not among the caller's own permissions")
	}
	if s, ok := confinedOpensAdmin(ctx, all); ok {
		return insufficientScope("permissions", s+" opens the admin API, which a caller confined to one account may not give")
	}
	if len(all) == 0 {
		pkgPerms := h.packagePermissions(pkg)
		if s, ok := notHeld(held, pkgPerms); ok {
			return insufficientScope("permissions", "without permissions the credential gets its package's, such as "+
				s+", which is not among the caller's own permissions")
		}
		if s, ok := confinedOpensAdmin(ctx, pkgPerms); ok {
			return insufficientScope("permissions", "without permissions the credential gets its package's, such as "+
				s+", which opens the admin API, and a caller confined to one account may not give it")
		}
	}
	return nil
}

// adminRoutePermissions are the permissions that open the admin API's
// routes.
var adminRoutePermissions = []access.Permission{access.MustParsePermission(PermissionRead),
	access.MustParsePermission(PermissionWrite), access.MustParsePermission(PermissionReview)}

// confinedOpensAdmin returns the first of perms that covers a permission
// of the admin API, and whether there is one, when the caller is confined
// to one account (a [Caller] with Account set); for any other caller it
// returns false. Such a caller holds admin:read and admin:write to reach
// the routes, but a credential with them would use the admin API over
// HTTP, where no confinement applies: giving it one, or rotating or
// updating one (which reveals or changes what it may do), would let the
// caller out of its account.
func confinedOpensAdmin(ctx context.Context, perms []string) (string, bool) {
	if _, ok := confinedTo(ctx); !ok {
		return "", false
	}
	for _, s := range perms {
		p, err := access.ParsePermission(s)
		if err != nil {
			continue // refused as not held
		}
		for _, a := range adminRoutePermissions {
			if p.Covers(a) {
				return s, true
			}
		}
	}
	return "", false
}

// checkPackageHeld checks that the caller holds every permission of the
// package pkg, which an account is moved to: its standard keys get them.
func (h *Handler) checkPackageHeld(ctx context.Context, pkg string) error {
	if s, ok := notHeld(h.callerGrants(ctx), h.packagePermissions(pkg)); ok {
		return insufficientScope("package", "the package grants "+s+", which is not among the caller's own permissions")
	}
	return nil
}

// checkHolds checks that the caller holds everything the existing
// credential p may do: to rotate it (which reveals a new secret) or
// update it.
func (h *Handler) checkHolds(ctx context.Context, p keygate.Principal) error {
	pkg, err := h.currentPackage(ctx, p.Account, p.Package)
	if err != nil {
		return err
	}
	return h.checkHoldsIn(ctx, p, pkg)
}

// checkHoldsIn is checkHolds with the package that applies to p known.
func (h *Handler) checkHoldsIn(ctx context.Context, p keygate.Principal, pkg string) error {
	eff := h.effective(p.KeyID, pkg, p.Permissions)
	if s, ok := notHeld(h.callerGrants(ctx), eff); ok {
		return insufficientScope("id", "the credential holds "+s+", which is not among the caller's own permissions")
	}
	if s, ok := confinedOpensAdmin(ctx, eff); ok {
		return insufficientScope("id", "the credential holds "+s+", which opens the admin API, and a caller confined to one account may not change it")
	}
	return nil
}

// currentPackage returns the package that applies to a credential of the
// account acct now: the account's (the middleware takes it from the
// account on every request; a credential's stored copy can be stale, an
// HMAC credential's always is after a package change), or stored when the
// account is gone.
func (h *Handler) currentPackage(ctx context.Context, acct, stored string) (string, error) {
	a, err := h.cfg.Accounts.Get(ctx, acct)
	switch {
	case errors.Is(err, account.ErrNotFound):
		return stored, nil
	case err != nil:
		return "", err
	}
	return a.Package, nil
}

// keyPrincipal describes the API key rec as the middleware would.
func keyPrincipal(rec apikey.Record) keygate.Principal {
	return keygate.Principal{Method: keygate.MethodAPIKey, KeyID: rec.ID, Account: rec.Account, Mode: rec.Mode,
		Kind: rec.Kind, Package: rec.Package, Permissions: rec.Permissions, Stores: rec.Stores}
}

// hmacPrincipal describes the HMAC credential c as the middleware would.
func hmacPrincipal(c httpsig.Credential) keygate.Principal {
	return keygate.Principal{Method: keygate.MethodHMAC, KeyID: c.KeyID, Account: c.Account, Mode: c.Mode,
		Kind: keygate.KindSecret, Package: c.Package, Permissions: c.Permissions, Stores: c.Stores}
}
