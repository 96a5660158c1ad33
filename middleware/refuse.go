package middleware

import (
	"context"

	"github.com/keygate/keygate"
)

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

// RecordCaller tells an enclosing [Authenticator.Audit] who the caller of
// a request is, for endpoints outside [Authenticator.Require] that
// authenticate a credential themselves (the OAuth endpoints authenticate
// their client): the request event names p's public identifiers (method,
// key ID, account, mode), and, with [RefuseRequest], a refusal after the
// credential verified names who was refused. Without Audit it does
// nothing.
func RecordCaller(ctx context.Context, p keygate.Principal) {
	slot, ok := ctx.Value(auditSlotKey{}).(*auditSlot)
	if !ok {
		return
	}
	slot.setCaller(&p)
	if p.ClientIP.IsValid() {
		slot.ip = p.ClientIP
	}
}
