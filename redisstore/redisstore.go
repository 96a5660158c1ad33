// Package redisstore keeps keygate's shared, short-lived state in Redis, so
// that several instances of a service agree on it: HMAC nonces
// ([NonceStore], an [hmac.NonceStore]), one-time tokens ([OneTimeStore], a
// [jwt.OneTimeStore]), revoked access tokens ([Denylist], a [jwt.Denylist])
// and rate limits ([Limiter], a [ratelimit.Limiter] and [ratelimit.Peeker]).
// It is its own Go module, so that users of keygate who keep everything in
// memory never pull in a Redis client.
//
// Every store takes a [redis.UniversalClient]: a *redis.Client, a
// *redis.ClusterClient, a Sentinel failover client, or whatever
// redis.NewUniversalClient returns. Each operation touches one key (or, for
// [Denylist.IsRevoked], reads two keys in one pipeline), so it works
// unchanged on Redis Cluster. Redis 6.2 or newer is needed (GETDEL).
//
// # Atomicity
//
// Every operation that must be atomic is atomic in Redis itself, never in
// Go memory, so it holds across any number of processes: a nonce is claimed
// by SET NX PX, a one-time token is stored by SET NX PX and consumed by
// GETDEL, and the denylist's monotonic updates and the rate limiter's GCRA
// step are Lua scripts, which Redis runs without interleaving.
//
// # Failing closed
//
// Every error from Redis — unreachable, timed out, out of memory, a key of
// the wrong type — is returned to the caller as an error, never turned into
// an answer: a nonce is not reported claimed, a token not found, a token
// not revoked or a request allowed unless Redis said so. Callers answer
// such errors with 503. The client's timeouts and retries bound how long a
// call may take, and a context deadline bounds it too; set the client's
// ContextTimeoutEnabled option, or a Redis that accepts connections but
// does not answer holds each call for the client's ReadTimeout (3 s by
// default) whatever the deadline. Once Redis answers again, calls succeed
// again through the same client: nothing needs restarting.
//
// # Keys
//
// Every key starts with [Config.Prefix] ("keygate:" by default); give each
// application, environment or test run that shares a Redis its own prefix.
// After the prefix:
//
//	nonce:<h>       an HMAC nonce; h is base64url(SHA-256(len(keyID) keyID nonce))
//	onetime:<h>     a one-time token's record; h is base64url of its SHA-256
//	deny:jti:<jti>  a revoked access token
//	deny:sub:<sub>  a subject's revocation cut-off
//	rate:<key>      a rate-limit key's theoretical arrival time
//
// No key holds a token: nonces and one-time tokens appear only hashed (a
// nonce also has no length limit, so its key is hashed to a fixed size).
// Every key has a TTL and expires on its own once it no longer matters, so
// nothing needs sweeping. Because every key has a TTL, an eviction policy
// other than noeviction (Redis's default) could drop live entries and let
// a nonce be replayed or a revoked token through: run these stores on a
// Redis (or a database of their own) with maxmemory-policy noeviction,
// where a full Redis refuses writes and the stores return errors.
//
// # Clocks
//
// Entries expire after a TTL (PX) measured by the caller's clock
// ([Config.Now]): a nonce at the expiry the verifier gives, a one-time
// token's record at its ExpiresAt, a revoked token [jwt.RevocationMargin]
// after its expiry, a subject's cut-off [Config.SubjectTTL] after it. So
// the Redis server's clock never has to agree with the instances'. The
// rate limiter is the exception: it reads the time inside its script
// (TIME), so that every instance measures against one clock and instances
// with skewed clocks still agree.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultPrefix is the key prefix when [Config.Prefix] is empty.
const DefaultPrefix = "keygate:"

// DefaultSubjectTTL is [Config.SubjectTTL] when zero.
const DefaultSubjectTTL = 24 * time.Hour

// ErrInvalidConfig reports a [Config] that no store can be made from. Test
// with errors.Is.
var ErrInvalidConfig = errors.New("redisstore: invalid configuration")

// Config configures the stores of this package; one Config can serve all
// of them. Client is required.
type Config struct {
	// Client is the connection to Redis. The stores share it and never
	// close it: the caller closes it after the last use.
	Client redis.UniversalClient
	// Prefix starts every key the stores read or write. Empty means
	// [DefaultPrefix].
	Prefix string
	// Now is the clock that TTLs are measured from: give the stores the
	// clock of the verifiers and issuers that use them. Nil means
	// time.Now.
	Now func() time.Time
	// SubjectTTL, used by [Denylist] only, is how long a subject's
	// revocation cut-off is kept after the cut-off time. It must be at
	// least the lifetime of the longest-lived access token plus
	// [jwt.RevocationMargin]: a token issued before the cut-off must
	// not become acceptable again while it is unexpired. Zero means
	// [DefaultSubjectTTL]; negative is an error.
	SubjectTTL time.Duration
}

// store is what every store holds: the client, the key prefix and the
// clock.
type store struct {
	client redis.UniversalClient
	prefix string
	now    func() time.Time
}

func newStore(cfg Config) (store, error) {
	switch {
	case cfg.Client == nil:
		return store{}, fmt.Errorf("%w: no Redis client", ErrInvalidConfig)
	case cfg.SubjectTTL < 0:
		return store{}, fmt.Errorf("%w: negative SubjectTTL", ErrInvalidConfig)
	}
	s := store{client: cfg.Client, prefix: cfg.Prefix, now: cfg.Now}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// key returns the prefix, then kind, then id.
func (s store) key(kind, id string) string {
	return s.prefix + kind + id
}

// checkCtx returns an error wrapping ctx.Err() once ctx is done: no store
// sends a command for a done context, so nothing changes.
func checkCtx(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	return nil
}

// maxTTL bounds the TTLs the stores set: about a century, far beyond any
// entry's use, well within what Redis accepts.
const maxTTL = 100 * 365 * 24 * time.Hour

// ttl is d rounded up to a whole millisecond (go-redis and PX count
// milliseconds), at least 1 ms and at most maxTTL.
func ttl(d time.Duration) time.Duration {
	if d >= maxTTL {
		return maxTTL
	}
	if r := d % time.Millisecond; r > 0 {
		d += time.Millisecond - r
	}
	return max(d, time.Millisecond)
}

// ttlMillis is ttl(d) in milliseconds, for a script's PX.
func ttlMillis(d time.Duration) int64 {
	return int64(ttl(d) / time.Millisecond)
}

// unixNanos is t in Unix nanoseconds, clamped to [0, MaxInt64] (outside it
// t.UnixNano is undefined, and no token is issued before 1970).
func unixNanos(t time.Time) int64 {
	const limit = math.MaxInt64/int64(time.Second) - 1
	switch s := t.Unix(); {
	case s > limit:
		return math.MaxInt64
	case s < 0:
		return 0
	}
	return t.UnixNano()
}
