package middleware

import (
	"github.com/keygate/keygate"
	"github.com/keygate/keygate/access"
)

// Grants returns the permissions the Authenticator itself enforces for p:
// those its permission rules check p against, "@role" entries expanded
// through [AccessConfig.Roles]. A handler behind [Authenticator.Require]
// uses it to learn what its caller may do (the admin API lets a caller
// give only what it holds); it also gives the effective permissions of a
// credential described as a Principal (its KeyID, Account, Package and
// Permissions, as the middleware would build them). A list that does not
// parse grants nothing, as on a request. A zero Authenticator grants
// nothing.
func (a *Authenticator) Grants(p keygate.Principal) access.Grants {
	if a == nil || a.access == nil {
		return access.Grants{}
	}
	// The origin rules play no part in the grants: reuse the cached ones,
	// so that asking does not evict what requests use.
	var g keygate.Grant
	if v, ok := a.access.perKey.Load(p.KeyID); ok {
		g = v.(*keyRules).origin
	}
	return a.access.rulesFor(&p, &g).grants
}

// Packages returns the service's packages, AccessConfig.Packages (nil
// when none were configured): what a standard credential of each package holds, for
// code that must judge credentials as the Authenticator does, such as the
// admin API.
func (a *Authenticator) Packages() *access.Packages {
	if a == nil || a.access == nil {
		return nil
	}
	return a.access.cfg.Packages
}
