package jwt

import (
	"context"
	"sync"
	"time"
)

// RevocationMargin is how long past its until a revoked jti must stay
// denied: a token is still acceptable for the verifier's leeway after its
// exp, so a revocation has to outlive that. A [Verifier]'s leeway may not
// exceed it.
const RevocationMargin = 5 * time.Minute

// Denylist stores revocations of access tokens: single tokens by jti, until
// they would have expired anyway, whole sessions by sid (the refresh-token
// family the tokens were minted with or from, see [Claims.Session]), and
// whole subjects ("every token issued before T is invalid": log out
// everywhere). Implementations must be safe
// for concurrent use and honour ctx. Run the conformance suite in package
// jwttest against every implementation.
type Denylist interface {
	// RevokeToken denies the token with this jti until until, its
	// expiry; the entry may be forgotten RevocationMargin after that.
	RevokeToken(ctx context.Context, jti string, until time.Time) error
	// RevokeSubject invalidates every token of subject issued before
	// before. A later cut-off replaces an earlier one; an earlier one
	// never replaces a later one.
	RevokeSubject(ctx context.Context, subject string, before time.Time) error
	// RevokeSession denies every token whose sid is session until until,
	// when the last of them would have expired; the entry may be
	// forgotten RevocationMargin after that. A later until replaces an
	// earlier one, never the reverse.
	RevokeSession(ctx context.Context, session string, until time.Time) error
	// IsRevoked reports whether a token with this jti, subject, session
	// (its sid; empty when it has none, which no revocation matches) and
	// issue time has been revoked, in one call (one round trip for a
	// remote store).
	IsRevoked(ctx context.Context, jti, subject, session string, issuedAt time.Time) (bool, error)
}

// MemoryDenylist is the in-memory [Denylist]. The zero value is not usable;
// call [NewMemoryDenylist].
type MemoryDenylist struct {
	mu       sync.RWMutex
	tokens   map[string]time.Time // jti → until
	sessions map[string]time.Time // sid → until
	subjects map[string]time.Time // subject → cut-off
	now      func() time.Time
	sweeps   int
}

// NewMemoryDenylist returns an empty MemoryDenylist.
func NewMemoryDenylist() *MemoryDenylist {
	return &MemoryDenylist{tokens: map[string]time.Time{}, sessions: map[string]time.Time{}, subjects: map[string]time.Time{}, now: time.Now}
}

// RevokeToken implements [Denylist].
func (d *MemoryDenylist) RevokeToken(ctx context.Context, jti string, until time.Time) error {
	return d.deny(ctx, d.tokens, jti, until)
}

// RevokeSession implements [Denylist].
func (d *MemoryDenylist) RevokeSession(ctx context.Context, session string, until time.Time) error {
	return d.deny(ctx, d.sessions, session, until)
}

// deny records id in m (tokens or sessions) until until, keeping a later
// until already there, and on every 1024th write of either kind forgets
// the entries of both maps whose tokens have expired, past the margin.
func (d *MemoryDenylist) deny(ctx context.Context, m map[string]time.Time, id string, until time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if until.After(m[id]) {
		m[id] = until
	}
	if d.sweeps++; d.sweeps >= 1024 {
		d.sweeps = 0
		now := d.now()
		for _, m := range []map[string]time.Time{d.tokens, d.sessions} {
			for id, u := range m {
				if now.After(u.Add(RevocationMargin)) {
					delete(m, id)
				}
			}
		}
	}
	return nil
}

// RevokeSubject implements [Denylist].
func (d *MemoryDenylist) RevokeSubject(ctx context.Context, subject string, before time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if before.After(d.subjects[subject]) {
		d.subjects[subject] = before
	}
	return nil
}

// IsRevoked implements [Denylist].
func (d *MemoryDenylist) IsRevoked(ctx context.Context, jti, subject, session string, issuedAt time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if _, ok := d.tokens[jti]; ok {
		return true, nil
	}
	if _, ok := d.sessions[session]; ok && session != "" {
		return true, nil
	}
	cut, ok := d.subjects[subject]
	return ok && issuedAt.Before(cut), nil
}
