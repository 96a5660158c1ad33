package httpsig

import (
	"bytes"
	"sync"

	"github.com/keygate/keygate/internal/hmacpool"
)

// DefaultSecretCacheEntries is the number of credentials whose opened
// secrets a [Manager] keeps when [Config.SecretCacheEntries] is zero.
const DefaultSecretCacheEntries = 10_000

// secretCache keeps the secrets [Manager.Lookup] opened, per key ID,
// each beside the sealed form it came from: a cached plaintext is used
// only for a stored secret whose sealed bytes are the very ones it was
// opened from, so that a rotation (a new sealed secret) opens afresh and a
// secret that is no longer stored is no longer used. The cache never
// decides whether a credential may sign: Lookup reads the credential from
// the store and checks it on every call, before it looks here.
//
// Each cached secret comes with a pool of HMAC states keyed with it, for
// the [Verifier]: they live and go with the entry. The plaintext stays in
// memory only; entries are dropped when Lookup finds the credential
// unknown or unusable, when this Manager rotates, revokes or disables it,
// and when the cache is full (an arbitrary entry goes).
type secretCache struct {
	mu  sync.Mutex
	max int
	m   map[string][]openedSecret
}

// openedSecret is a sealed secret, its plaintext and, when cached, a pool
// of HMAC states keyed with it. Cached entries are never modified: a
// change replaces the whole entry.
type openedSecret struct {
	sealed, plain []byte
	macs          *hmacpool.Pool // nil when not cached
}

// check reports whether mac is the HMAC of msg under the secret, comparing
// in constant time: with a pooled state when the secret is cached.
func (o openedSecret) check(msg, mac []byte) bool {
	if o.macs != nil {
		return o.macs.Check(msg, mac)
	}
	return hmacpool.New(o.plain).Check(msg, mac)
}

// newSecretCache returns a cache of at most max credentials, or nil (no
// caching) when max is negative.
func newSecretCache(max int) *secretCache {
	switch {
	case max < 0:
		return nil
	case max == 0:
		max = DefaultSecretCacheEntries
	}
	return &secretCache{max: max, m: map[string][]openedSecret{}}
}

// open returns the opened form of sealed, the stored secrets of keyID
// that verify now, in order: the cached entry when it holds exactly these
// sealed bytes, else a new entry opened with s, which replaces it. The
// returned entry may be the cache's: read it, never modify it. A nil
// cache opens every secret, into an entry of the caller's own without MAC
// pools.
func (c *secretCache) open(s sealer, keyID string, sealed [][]byte) ([]openedSecret, error) {
	if c == nil {
		entry := make([]openedSecret, len(sealed))
		for i, b := range sealed {
			p, err := s.open(keyID, b)
			if err != nil {
				return nil, err
			}
			entry[i] = openedSecret{plain: p}
		}
		return entry, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cached := c.m[keyID]; len(cached) == len(sealed) {
		hit := true
		for i, b := range sealed {
			hit = hit && bytes.Equal(cached[i].sealed, b)
		}
		if hit {
			return cached, nil
		}
	}
	entry := make([]openedSecret, len(sealed))
	for i, b := range sealed {
		p, err := s.open(keyID, b)
		if err != nil {
			delete(c.m, keyID)
			return nil, err
		}
		p = p[:len(p):len(p)]
		entry[i] = openedSecret{sealed: bytes.Clone(b), plain: p, macs: hmacpool.NewPool(p)}
	}
	if _, ok := c.m[keyID]; !ok && len(c.m) >= c.max {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[keyID] = entry
	return entry, nil
}

// forget drops the secrets of keyID.
func (c *secretCache) forget(keyID string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	delete(c.m, keyID)
	c.mu.Unlock()
}
