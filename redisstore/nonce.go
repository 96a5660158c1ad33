package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/keygate/keygate/hmac"
	"github.com/keygate/keygate/internal/strbytes"
)

// NonceStore is the [hmac.NonceStore] in Redis: the nonces of accepted
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
// Before it, a new nonce reserves a place among the key ID's nonces (a Lua
// script on the key ID's sorted set): at most [Config.MaxNoncesPerKey]
// unexpired nonces per key ID, so that one credential cannot fill Redis for
// every other (see "Bounds per credential" in the package documentation).
//
// It is safe for concurrent use. Make one with [NewNonceStore].
type NonceStore struct {
	store
}

var _ hmac.NonceStore = (*NonceStore)(nil)

// NewNonceStore returns a NonceStore for cfg. It fails, with an error
// wrapping [ErrInvalidConfig], if cfg has no Client.
func NewNonceStore(cfg Config) (*NonceStore, error) {
	s, err := newStore(cfg)
	if err != nil {
		return nil, err
	}
	return &NonceStore{store: s}, nil
}

// Claim implements [hmac.NonceStore]. It returns an error, and records
// nothing, if ctx is done (wrapping ctx.Err()) or if expires is not after
// now, or if the nonce is new and the key ID holds MaxNoncesPerKey
// unexpired nonces (wrapping [hmac.ErrNonceQuota]); a replay is reported as
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
	h := nonceHash(keyID, nonce)
	key := s.key("nonce:", h)
	if s.maxNonces > 0 {
		room, err := s.reserve(ctx, s.key("nonceq:", ownerHash(keyID)), h, expires, s.maxNonces)
		if err != nil {
			return false, fmt.Errorf("redisstore: claim nonce: %w", err)
		}
		if !room {
			n, err := s.client.Exists(ctx, key).Result()
			switch {
			case err != nil:
				return false, fmt.Errorf("redisstore: claim nonce: %w", err)
			case n > 0:
				return false, nil // a replay
			}
			return false, fmt.Errorf("redisstore: claim nonce: %w: %d unexpired nonces recorded for the key ID", hmac.ErrNonceQuota, s.maxNonces)
		}
	}
	// In whole milliseconds, go-redis sends the TTL as PX unchanged (or
	// as EX when it is whole seconds).
	ok, err := s.client.SetNX(ctx, key, "1", ttl(d)).Result()
	if err != nil {
		return false, fmt.Errorf("redisstore: claim nonce: %w", err)
	}
	return ok, nil
}

// nonceKey is the key of keyID's nonce.
func (s *NonceStore) nonceKey(keyID, nonce string) string {
	return s.key("nonce:", nonceHash(keyID, nonce))
}

// nonceHash is the SHA-256 of the length of keyID (a uvarint), keyID and
// nonce, in base64url.
func nonceHash(keyID, nonce string) string {
	return ownerHash(keyID, nonce)
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
