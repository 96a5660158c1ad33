package account

import (
	"context"
	"time"

	"github.com/keygate/keygate/internal/ttlcache"
)

// CacheConfig configures a [CachedStore].
type CacheConfig struct {
	// TTL is how long an account read from the backing store is served
	// from memory. It bounds how long a change made through another
	// instance (a disable, a new package) can go unseen here when nothing
	// calls [CachedStore.Invalidate] for it; changes made through this
	// instance are seen at once. Zero means [DefaultCacheTTL].
	TTL time.Duration
	// MaxEntries bounds the cached accounts; when full, a random one makes
	// room. Zero means [DefaultCacheEntries].
	MaxEntries int
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Defaults of [CacheConfig].
const (
	DefaultCacheTTL     = 2 * time.Second
	DefaultCacheEntries = 100_000
)

// CachedStore is a read-through cache in front of a [Store] whose reads are
// slow (SQL, over the network), for the per-request [Lookup] of the
// middleware and the OAuth endpoints: Get serves an account from memory for
// up to CacheConfig.TTL. Every write goes to the backing store and forgets
// the local copy, so that this instance sees its own changes at once; a
// write that fails on a version conflict forgets it too, so that the
// compare-and-swap retry reads afresh.
//
// Other instances sharing the backing store see a change within the TTL,
// or at once if something calls Invalidate on them for it: a service with
// several instances wires the manager's OnChange (Config.OnChange) to a
// broadcast (Redis pub/sub, say) whose receivers call Invalidate with the
// change's Account.
//
// Unknown IDs are not cached, so an account created elsewhere is found at
// once. List is not cached. CachedStore passes the conformance suite of
// package accounttest.
type CachedStore struct {
	inner Store
	cache *ttlcache.Cache[Account]
}

var _ Store = (*CachedStore)(nil)

// NewCachedStore returns a CachedStore in front of inner.
func NewCachedStore(inner Store, cfg CacheConfig) *CachedStore {
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultCacheTTL
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultCacheEntries
	}
	return &CachedStore{inner: inner, cache: ttlcache.New[Account](cfg.TTL, cfg.MaxEntries, cfg.Now)}
}

// Invalidate forgets the cached copy of the account with that ID, so that
// the next Get reads the backing store.
func (c *CachedStore) Invalidate(id string) { c.cache.Invalidate(id) }

// InvalidateAll forgets every cached account (after a lost broadcast
// connection, say).
func (c *CachedStore) InvalidateAll() { c.cache.InvalidateAll() }

// Create implements [Store].
func (c *CachedStore) Create(ctx context.Context, a Account) (Account, error) {
	return c.inner.Create(ctx, a)
}

// Get implements [Store], from memory when a fresh copy is cached. An
// Account holds no reference types, so the cached copy is never shared.
func (c *CachedStore) Get(ctx context.Context, id string) (Account, error) {
	if err := ctx.Err(); err != nil {
		return Account{}, err
	}
	return c.cache.GetOrLoad(ctx, id, c.inner.Get)
}

// Update implements [Store].
func (c *CachedStore) Update(ctx context.Context, a Account) (Account, error) {
	// Forgotten whatever the outcome: after a version conflict, the
	// cached copy is what was stale.
	defer c.cache.Invalidate(a.ID)
	return c.inner.Update(ctx, a)
}

// List implements [Store]; it is not cached.
func (c *CachedStore) List(ctx context.Context, f ListFilter) ([]Account, error) {
	return c.inner.List(ctx, f)
}
