package jwt

import (
	"hash/maphash"
	"sync"
	"time"
)

// DefaultCacheSize is the number of verified tokens a Verifier remembers
// when [VerifierConfig.CacheSize] is zero.
const DefaultCacheSize = 10000

// cacheShards spreads the cache over independent locks.
const cacheShards = 16

// tokenCache remembers tokens that passed every check up to revocation, so
// that a token presented again costs two hashes and a few map lookups
// instead of parsing and cryptography. It is keyed by a hash of the token
// and never stores the token itself. A hit is still checked against the
// clock (exp, with the same leeway), the key set (the key that verified it
// must still be there: a retired key's tokens stop at once, and a new key
// under an old kid verifies afresh) and the denylist (revocation takes
// effect at once).
type tokenCache struct {
	seed, check maphash.Seed // two independent random seeds: 128 bits to match
	perShard    int
	shards      [cacheShards]cacheShard
}

type cacheShard struct {
	mu      sync.RWMutex
	entries map[uint64]*cacheEntry // entries are never written once stored
}

type cacheEntry struct {
	check  uint64 // the token's hash under the second seed
	key    *Key   // the key that verified the signature
	claims Claims // read-only: callers copy what they hand out
}

func newTokenCache(size int) *tokenCache {
	c := &tokenCache{seed: maphash.MakeSeed(), check: maphash.MakeSeed(), perShard: max(1, size/cacheShards)}
	for i := range c.shards {
		c.shards[i].entries = make(map[uint64]*cacheEntry)
	}
	return c
}

// get returns the cached entry for token: the cache's own, read-only (a
// pointer, so that a hit copies none of its claims).
func (c *tokenCache) get(token string) (*cacheEntry, bool) {
	h := maphash.String(c.seed, token)
	s := &c.shards[h%cacheShards]
	s.mu.RLock()
	e, ok := s.entries[h]
	s.mu.RUnlock()
	if !ok || e.check != maphash.String(c.check, token) {
		return nil, false
	}
	return e, true
}

// put remembers a verified token, evicting an arbitrary entry of its shard
// when the shard is full.
func (c *tokenCache) put(token string, key *Key, claims Claims) {
	h := maphash.String(c.seed, token)
	s := &c.shards[h%cacheShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.entries) >= c.perShard {
		for k := range s.entries { // map order is random enough
			delete(s.entries, k)
			break
		}
	}
	s.entries[h] = &cacheEntry{check: maphash.String(c.check, token), key: key, claims: claims}
}

// expired reports whether claims have expired at now, with leeway, as
// checkClaims decides it.
func expired(c Claims, now time.Time, leeway time.Duration) bool {
	return !now.Before(c.ExpiresAt.Add(leeway))
}
