package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/internal/strbytes"
	"github.com/redis/go-redis/v9"
)

// NonceStore is the [httpsig.NonceStore] in Redis: the nonces of accepted
// requests, shared by every instance that uses the same Redis and prefix,
// so that a request accepted by one is refused as a replay by all.
//
// Claim is one command, SET key 1 NX PX ttl: Redis records the nonce and
// reports whether it was new in one atomic step, and forgets it after ttl,
// the time from now ([Config.Now]) to expires, rounded up to the
// millisecond. The key is the SHA-256 of the key ID (length-prefixed) and
// the nonce, so that keys have a fixed size and no pair of values can be
// confused with another.
//
// With it, in the same pipeline (one round trip), a new nonce reserves a
// place among the key ID's nonces (a Lua script on the key ID's sorted
// set): at most [Config.MaxNoncesPerKey] unexpired nonces per key ID, so
// that one credential cannot fill Redis for every other (see "Bounds per
// credential" in the package documentation). A new nonce refused a place
// is deleted again (a third command, on the refusal's path only), and so
// is a new nonce whose reservation failed (a retry is then not a replay).
//
// It is safe for concurrent use. Make one with [NewNonceStore].
type NonceStore struct {
	store
}

var _ httpsig.NonceStore = (*NonceStore)(nil)

// NewNonceStore returns a NonceStore for cfg. It fails, with an error
// wrapping [ErrInvalidConfig], if cfg has no Client.
func NewNonceStore(cfg Config) (*NonceStore, error) {
	s, err := newStore(cfg)
	if err != nil {
		return nil, err
	}
	return &NonceStore{store: s}, nil
}

// Claim implements [httpsig.NonceStore]. It returns an error, and records
// nothing, if ctx is done (wrapping ctx.Err()) or if expires is not after
// now, or if the nonce is new and the key ID holds MaxNoncesPerKey
// unexpired nonces (wrapping [httpsig.ErrNonceQuota]); a replay is reported as
// one (false, nil) also then. It returns an error, never true, if Redis
// does not answer.
func (s *NonceStore) Claim(ctx context.Context, keyID, nonce string, expires time.Time) (bool, error) {
	if err := checkCtx(ctx, "claim nonce"); err != nil {
		return false, err
	}
	now := s.now()
	d := expires.Sub(now)
	if d <= 0 {
		return false, fmt.Errorf("redisstore: claim nonce: expiry %v is not after now (%v)", expires, now)
	}
	h := ownerHash(keyID, nonce)
	key := s.key("nonce:", h)
	if s.maxNonces <= 0 {
		// In whole milliseconds, go-redis sends the TTL as PX unchanged
		// (or as EX when it is whole seconds).
		ok, err := s.client.SetNX(ctx, key, "1", ttl(d)).Result()
		if err != nil {
			return false, fmt.Errorf("redisstore: claim nonce: %w", err)
		}
		return ok, nil
	}
	// One round trip: the SET NX and the reservation in one pipeline.
	// A replay is a replay whatever the reservation said (its member is
	// the nonce's own hash, so it takes no second place); a new nonce
	// without room is deleted again before the refusal.
	var set *redis.BoolCmd
	var room *redis.Cmd
	_, _ = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		set = p.SetNX(ctx, key, "1", ttl(d))
		room = s.reserveCmd(ctx, p, s.key("nonceq:", ownerHash(keyID)), h, expires, s.maxNonces)
		return nil
	})
	fresh, err := set.Result()
	if err != nil {
		return false, fmt.Errorf("redisstore: claim nonce: %w", err)
	}
	n, err := room.Int()
	switch {
	case err != nil:
		if fresh {
			// Recorded but not reserved: forget it again, or a retry of
			// the request would be refused as a replay.
			if derr := s.client.Del(ctx, key).Err(); derr != nil {
				return false, fmt.Errorf("redisstore: claim nonce: %w (deleting the nonce: %v)", err, derr)
			}
		}
		return false, fmt.Errorf("redisstore: claim nonce: %w", err)
	case !fresh:
		return false, nil // a replay
	case n != 1:
		if err := s.client.Del(ctx, key).Err(); err != nil {
			return false, fmt.Errorf("redisstore: claim nonce: %w", err)
		}
		return false, fmt.Errorf("redisstore: claim nonce: %w: %d unexpired nonces recorded for the key ID", httpsig.ErrNonceQuota, s.maxNonces)
	}
	return true, nil
}

// nonceKey is the key of keyID's nonce, as Claim names it; the tests use
// it (TestNonceKey pins its format).
func (s *NonceStore) nonceKey(keyID, nonce string) string {
	return s.key("nonce:", ownerHash(keyID, nonce))
}

// ownerHash is the SHA-256 of the length of first (a uvarint), first and
// rest, in base64url: a fixed-size name for a pair of values that no other
// pair shares. With rest empty it names first alone.
func ownerHash(first string, rest ...string) string {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(first)))])
	h.Write(strbytes.View(first))
	for _, r := range rest {
		h.Write(strbytes.View(r))
	}
	var sum [sha256.Size]byte
	var enc [nonceKeyLen]byte
	base64.RawURLEncoding.Encode(enc[:], h.Sum(sum[:0]))
	return string(enc[:])
}

// nonceKeyLen is the length of a nonce key's hash, in base64url.
const nonceKeyLen = (sha256.Size*8 + 5) / 6
