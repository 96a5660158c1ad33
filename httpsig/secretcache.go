package httpsig

import (
	"bytes"
	"sync"
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
// The plaintext stays in memory only; entries are dropped when Lookup
// finds the credential unknown or unusable, when this Manager rotates,
// revokes or disables it, and when the cache is full (an arbitrary entry
// goes).
type secretCache struct {
	mu  sync.Mutex
	max int
	m   map[string][]openedSecret
}

// openedSecret is a sealed secret and its plaintext.
type openedSecret struct{ sealed, plain []byte }

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

// open returns the plaintexts of sealed, the stored secrets of keyID that
// verify now, in order: the cached ones when their sealed bytes match,
// the others opened with s, copied into memory of the caller's own. The
// cached entry then holds exactly these secrets. A nil cache opens every
// secret.
func (c *secretCache) open(s sealer, keyID string, sealed [][]byte, plain [][]byte) ([][]byte, error) {
	if c == nil {
		for _, b := range sealed {
			p, err := s.open(keyID, b)
			if err != nil {
				return nil, err
			}
			plain = append(plain, p)
		}
		return plain, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cached := c.m[keyID]
	hit := len(cached) == len(sealed)
	for i, b := range sealed {
		if hit && bytes.Equal(cached[i].sealed, b) {
			plain = append(plain, cached[i].plain)
			continue
		}
		hit = false
		p, err := s.open(keyID, b)
		if err != nil {
			delete(c.m, keyID)
			return nil, err
		}
		plain = append(plain, p[:len(p):len(p)])
	}
	if !hit {
		entry := make([]openedSecret, len(sealed))
		for i, b := range sealed {
			entry[i] = openedSecret{sealed: bytes.Clone(b), plain: plain[i]}
		}
		if _, ok := c.m[keyID]; !ok && len(c.m) >= c.max {
			for k := range c.m {
				delete(c.m, k)
				break
			}
		}
		c.m[keyID] = entry
	}
	// The caller gets copies of its own, in one allocation.
	size := 0
	for _, p := range plain {
		size += len(p)
	}
	own := make([]byte, 0, size)
	for i, p := range plain {
		start := len(own)
		own = append(own, p...)
		plain[i] = own[start:len(own):len(own)]
	}
	return plain, nil
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
