package httpsig

import (
	"context"
	"time"

	"github.com/keygate/keygate/internal/ttlcache"
)

// CacheConfig configures a [CachedCredentialStore].
type CacheConfig struct {
	// TTL is how long a credential read from the backing store is served
	// from memory: the bound on how long a change made through another
	// instance (a revocation) can go unseen here when nothing calls
	// Invalidate for it. Zero means [DefaultCacheTTL].
	TTL time.Duration
	// MaxEntries bounds the cached credentials. Zero means
	// [DefaultCacheEntries].
	MaxEntries int
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Defaults of [CacheConfig].
const (
	DefaultCacheTTL     = 2 * time.Second
	DefaultCacheEntries = 100_000
)

// CachedCredentialStore is a read-through cache in front of a
// [CredentialStore] whose reads are slow (SQL), like apikey.CachedStore:
// Get is served from memory for up to CacheConfig.TTL; every write goes
// through and forgets the local copy (a version conflict too, so that a
// compare-and-swap retry reads afresh). The cached credentials hold sealed
// secrets only, as the store does. Unknown key IDs and List are not
// cached. It passes the conformance suite of package httpsigtest.
type CachedCredentialStore struct {
	s *ttlcache.Store[Credential, ListFilter]
}

var _ CredentialStore = (*CachedCredentialStore)(nil)

// NewCachedCredentialStore returns a CachedCredentialStore in front of
// inner.
func NewCachedCredentialStore(inner CredentialStore, cfg CacheConfig) *CachedCredentialStore {
	return &CachedCredentialStore{s: ttlcache.NewStore(inner, cfg.TTL, DefaultCacheTTL, cfg.MaxEntries, DefaultCacheEntries, cfg.Now,
		func(cred Credential) string { return cred.KeyID }, Credential.clone)}
}

// Invalidate forgets the cached copy of the credential with that key ID.
func (c *CachedCredentialStore) Invalidate(keyID string) { c.s.Invalidate(keyID) }

// InvalidateAll forgets every cached credential.
func (c *CachedCredentialStore) InvalidateAll() { c.s.InvalidateAll() }

// Create implements [CredentialStore].
func (c *CachedCredentialStore) Create(ctx context.Context, cred Credential) (Credential, error) {
	return c.s.Create(ctx, cred)
}

// Get implements [CredentialStore], from memory when a fresh copy is
// cached. It returns a copy the caller may change.
func (c *CachedCredentialStore) Get(ctx context.Context, keyID string) (Credential, error) {
	cred, err := c.s.Get(ctx, keyID)
	return cred.clone(), err
}

// List implements [CredentialStore]; it is not cached.
func (c *CachedCredentialStore) List(ctx context.Context, f ListFilter) ([]Credential, error) {
	return c.s.List(ctx, f)
}

// Update implements [CredentialStore].
func (c *CachedCredentialStore) Update(ctx context.Context, cred Credential) (Credential, error) {
	return c.s.Update(ctx, cred)
}
