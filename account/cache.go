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
	s *ttlcache.Store[Account, ListFilter]
}

var _ Store = (*CachedStore)(nil)

// NewCachedStore returns a CachedStore in front of inner.
func NewCachedStore(inner Store, cfg CacheConfig) *CachedStore {
	// An Account holds no reference types: the cached copy is never
	// shared, and needs no clone.
	return &CachedStore{s: ttlcache.NewStore(inner, cfg.TTL, DefaultCacheTTL, cfg.MaxEntries, DefaultCacheEntries, cfg.Now,
		func(a Account) string { return a.ID }, nil)}
}

// Invalidate forgets the cached copy of the account with that ID, so that
// the next Get reads the backing store.
func (c *CachedStore) Invalidate(id string) { c.s.Invalidate(id) }

// InvalidateAll forgets every cached account (after a lost broadcast
// connection, say).
func (c *CachedStore) InvalidateAll() { c.s.InvalidateAll() }

// Create implements [Store].
func (c *CachedStore) Create(ctx context.Context, a Account) (Account, error) {
	return c.s.Create(ctx, a)
}

// Get implements [Store], from memory when a fresh copy is cached.
func (c *CachedStore) Get(ctx context.Context, id string) (Account, error) { return c.s.Get(ctx, id) }

// Update implements [Store]. The cached copy is forgotten whatever the
// outcome: after a version conflict, it is what was stale.
func (c *CachedStore) Update(ctx context.Context, a Account) (Account, error) {
	return c.s.Update(ctx, a)
}

// List implements [Store]; it is not cached.
func (c *CachedStore) List(ctx context.Context, f ListFilter) ([]Account, error) {
	return c.s.List(ctx, f)
}
