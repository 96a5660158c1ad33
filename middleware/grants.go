package middleware

import (
	"context"

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
	var o origin
	if v, ok := a.access.perKey.Load(p.KeyID); ok {
		o = v.(*keyRules).origin
	}
	return a.access.rulesFor(p, o).grants
}

// RefuseRequest tells an enclosing [Authenticator.Audit] that the handler
// refused a request that [Authenticator.Require] had let through, for
// reason (a short code such as "insufficient_scope"): its request event is
// recorded with decision deny and that reason, beside the caller's
// identifiers. reason must be 1 to 64 characters of a-z, 0-9 and '_' (a
// fixed code, never input: it is also a metrics label); anything else is
// recorded as "refused". Without Audit it does nothing.
func RefuseRequest(ctx context.Context, reason string) {
	slot, ok := ctx.Value(auditSlotKey{}).(*auditSlot)
	if !ok {
		return
	}
	if !reasonCode(reason) {
		reason = "refused"
	}
	slot.reason = reason
}

// reasonCode reports whether s is acceptable as an audit reason code.
func reasonCode(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
