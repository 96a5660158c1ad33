package keygate

import (
	"context"
	"time"
)

// Action names a management action for the audit log: what happened to a
// credential, as opposed to a request that used one.
type Action string

// The management actions the keygate packages report.
const (
	ActionKeyCreated  Action = "key.created"  // an API key was minted
	ActionKeyRotated  Action = "key.rotated"  // an API key got a new secret
	ActionKeyRevoked  Action = "key.revoked"  // an API key was revoked for good
	ActionKeyApproved Action = "key.approved" // a live API key passed review
	ActionKeyDisabled Action = "key.disabled" // an API key was suspended
	ActionKeyEnabled  Action = "key.enabled"  // a suspended API key was re-enabled
	ActionKeyUpdated  Action = "key.updated"  // an API key's metadata changed

	ActionAccountCreated  Action = "account.created"  // an account was created
	ActionAccountUpdated  Action = "account.updated"  // an account's name or package changed
	ActionAccountDisabled Action = "account.disabled" // an account was suspended: every credential of it is refused
	ActionAccountEnabled  Action = "account.enabled"  // a suspended account was re-enabled

	ActionHMACCreated  Action = "hmac.created"  // an HMAC credential was minted
	ActionHMACRotated  Action = "hmac.rotated"  // an HMAC credential got a new secret
	ActionHMACRevoked  Action = "hmac.revoked"  // an HMAC credential was revoked for good
	ActionHMACDisabled Action = "hmac.disabled" // an HMAC credential was suspended
	ActionHMACEnabled  Action = "hmac.enabled"  // a suspended HMAC credential was re-enabled

	ActionTokenRevoked   Action = "token.revoked"          // an access token (by jti) was revoked
	ActionSubjectRevoked Action = "token.subject_revoked"  // every token of a subject issued until now was revoked
	ActionRefreshRevoked Action = "refresh.family_revoked" // a refresh-token family (a session) was revoked
	// ActionRefreshReuse is a security event: a rotated refresh token was
	// presented again, and its family was revoked.
	ActionRefreshReuse Action = "refresh.reuse_detected"

	ActionIPRuleCreated Action = "ip_rule.created" // a service-wide or account IP rule was added
	ActionIPRuleDeleted Action = "ip_rule.deleted" // an IP rule was removed
)

// Change is one management action, reported through a [ChangeFunc] by the
// packages that manage credentials (apikey, httpsig, jwt's refresh tokens,
// oauth's revocation endpoint) so that a service can record it, in its
// audit log for instance. It holds public identifiers only, never a
// secret.
type Change struct {
	// Action is what happened.
	Action Action
	// Time is when it happened, on the reporting package's clock.
	Time time.Time
	// Actor is who did it: [ActorFromContext] of the call's context, or,
	// where the package knows better, the client that asked (the OAuth
	// client revoking its token, the client replaying a refresh token).
	// Empty when nobody is known.
	Actor string
	// KeyID is the API key or HMAC credential acted on, or the client of
	// a token.
	KeyID string
	// TokenID is the access token's jti, for a token revocation, or the
	// refresh-token family's ID, for a refresh-token action.
	TokenID string
	// Subject is the token subject, for token and refresh-token actions.
	Subject string
	// Account and Mode are the credential's owner and mode, when known.
	Account string
	Mode    Mode
}

// ChangeFunc receives management actions. The packages call it after the
// change is stored, synchronously, with the caller's context: it should
// hand the change off quickly (an audit writer's queue, say) and must not
// call back into the manager that reported it.
type ChangeFunc func(ctx context.Context, c Change)

// actorKey is the context key of WithActor.
type actorKey struct{}

// WithActor returns a copy of ctx that names who is acting, for the
// [Change] reports of the managers called with it: an admin key's ID, a
// user, or a process ("keygate init").
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorFromContext returns who is acting in ctx: the actor set by
// [WithActor], else the authenticated caller's key ID (its subject when it
// has no key ID), else "".
func ActorFromContext(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != "" {
		return a
	}
	if p, ok := FromContext(ctx); ok {
		if p.KeyID != "" {
			return p.KeyID
		}
		return p.Subject
	}
	return ""
}

// MultiChangeFunc returns a ChangeFunc that passes each change to every
// non-nil fn, in order, as [io.MultiWriter] does with writes: to the audit
// log and to a broadcast that tells the other instances of a service to
// drop their cached copies, say. It returns nil when there is none.
func MultiChangeFunc(fns ...ChangeFunc) ChangeFunc {
	var live []ChangeFunc
	for _, fn := range fns {
		if fn != nil {
			live = append(live, fn)
		}
	}
	switch len(live) {
	case 0:
		return nil
	case 1:
		return live[0]
	}
	return func(ctx context.Context, c Change) {
		for _, fn := range live {
			fn(ctx, c)
		}
	}
}
