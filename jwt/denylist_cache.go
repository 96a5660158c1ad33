package jwt

import (
	"context"
	"time"

	"github.com/keygate/keygate/internal/ttlcache"
)

// DenylistCacheConfig configures a [CachedDenylist].
type DenylistCacheConfig struct {
	// TTL is how long an answer of the backing Denylist is served from
	// memory. It bounds how long a revocation made through another
	// instance can go unseen here when nothing calls
	// [CachedDenylist.Invalidate] (a broadcast, see redisstore's
	// Invalidations); revocations made through this CachedDenylist are
	// seen at once. Zero means [DefaultDenylistCacheTTL].
	TTL time.Duration
	// MaxEntries bounds the cached answers, one per token; when full, a
	// random one makes room. Zero means [DefaultDenylistCacheEntries].
	MaxEntries int
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Defaults of [DenylistCacheConfig].
const (
	DefaultDenylistCacheTTL     = 2 * time.Second
	DefaultDenylistCacheEntries = 100_000
)

// CachedDenylist is a [Denylist] that answers IsRevoked from memory for
// up to DenylistCacheConfig.TTL, so that a token seen again does not cost
// a round trip to a shared denylist (SQL or Redis) on every request.
//
// Every revocation goes to the backing Denylist, then forgets every
// cached answer, so that this instance refuses a token it revoked on the
// next request. Other instances, each with a CachedDenylist of its own,
// see it when their answers expire, or at once when they are told:
// [CachedDenylist.Invalidate] forgets every answer, and a service that
// broadcasts its changes calls it on every instance for the token
// revocations (keygate.ActionTokenRevoked, ActionSubjectRevoked,
// ActionRefreshRevoked and ActionRefreshReuse; redisstore.Invalidations
// publishes them as redisstore.TokensRevoked).
//
// An answer is never kept across an invalidation that happened while it
// was being read, so a revocation is never undone by a slow reader. A
// "revoked" answer is as safe to keep as "not revoked": a revocation is
// never taken back while the token it denies could still verify. Tokens
// without a jti are not cached.
type CachedDenylist struct {
	inner Denylist
	cache *ttlcache.Cache[revocationAnswer]
}

// revocationAnswer is a cached IsRevoked answer for one jti, with the
// rest of the question it answers: a different subject, session or issue
// time under the same jti is a different question.
type revocationAnswer struct {
	subject, session string
	issuedAt         int64 // Unix nanoseconds
	revoked          bool
}

// NewCachedDenylist returns a CachedDenylist in front of inner.
func NewCachedDenylist(inner Denylist, cfg DenylistCacheConfig) *CachedDenylist {
	ttl, entries := cfg.TTL, cfg.MaxEntries
	if ttl <= 0 {
		ttl = DefaultDenylistCacheTTL
	}
	if entries <= 0 {
		entries = DefaultDenylistCacheEntries
	}
	return &CachedDenylist{inner: inner, cache: ttlcache.New[revocationAnswer](ttl, entries, cfg.Now)}
}

// Invalidate forgets every cached answer: call it when another instance
// revoked a token, a session or a subject.
func (d *CachedDenylist) Invalidate() { d.cache.InvalidateAll() }

// RevokeToken implements [Denylist]: it revokes in the backing Denylist,
// then forgets every cached answer, whatever the outcome.
func (d *CachedDenylist) RevokeToken(ctx context.Context, jti string, until time.Time) error {
	defer d.cache.InvalidateAll()
	return d.inner.RevokeToken(ctx, jti, until)
}

// RevokeSubject implements [Denylist], as RevokeToken does.
func (d *CachedDenylist) RevokeSubject(ctx context.Context, subject string, before time.Time) error {
	defer d.cache.InvalidateAll()
	return d.inner.RevokeSubject(ctx, subject, before)
}

// RevokeSession implements [Denylist], as RevokeToken does.
func (d *CachedDenylist) RevokeSession(ctx context.Context, session string, until time.Time) error {
	defer d.cache.InvalidateAll()
	return d.inner.RevokeSession(ctx, session, until)
}

// IsRevoked implements [Denylist]: from memory when a fresh answer to the
// same question is cached, else from the backing Denylist, whose answer
// it caches (an error is returned and not cached). A done ctx fails it
// even when the answer is cached.
func (d *CachedDenylist) IsRevoked(ctx context.Context, jti, subject, session string, issuedAt time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if jti == "" {
		return d.inner.IsRevoked(ctx, jti, subject, session, issuedAt)
	}
	iat := issuedAt.UnixNano()
	if a, ok := d.cache.Get(jti); ok && a.subject == subject && a.session == session && a.issuedAt == iat {
		return a.revoked, nil
	}
	read := d.cache.Begin()
	revoked, err := d.inner.IsRevoked(ctx, jti, subject, session, issuedAt)
	if err != nil {
		return false, err
	}
	d.cache.Put(jti, revocationAnswer{subject: subject, session: session, issuedAt: iat, revoked: revoked}, read)
	return revoked, nil
}
