// Package redisstore keeps keygate's shared, short-lived state in Redis, so
// that several instances of a service agree on it: HMAC nonces
// ([NonceStore], an [httpsig.NonceStore]), one-time tokens ([OneTimeStore], a
// [jwt.OneTimeStore]), revoked access tokens ([Denylist], a [jwt.Denylist])
// and rate limits ([Limiter], a [ratelimit.Limiter] and [ratelimit.Peeker]).
// It is its own Go module, so that users of keygate who keep everything in
// memory never pull in a Redis client.
//
// Every store takes a [redis.UniversalClient]: a *redis.Client, a
// *redis.ClusterClient, a Sentinel failover client, or whatever
// redis.NewUniversalClient returns. Each command touches one key (or, for
// [Denylist.IsRevoked], reads up to three keys, the jti's, the session's
// and the subject's, in one pipeline), so it works
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
//	nonce:<h>       an HMAC nonce; h is base64url(SHA-256(len(keyID) keyID
//	                nonce)), len(keyID) a uvarint
//	nonceq:<k>      the nonces a key ID holds, a sorted set of h by expiry;
//	                k is base64url(SHA-256(len(keyID) keyID))
//	onetime:<h>     a one-time token's record; h is base64url of its SHA-256
//	onetimeq:<o>    the one-time tokens an account and key ID hold, a sorted
//	                set of h by expiry; o is base64url(SHA-256(len(account)
//	                account keyID))
//	deny:jti:<jti>  a revoked access token
//	deny:sid:<sid>  a revoked session (refresh-token family): every access
//	                token whose sid claim names it
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
// # Bounds per credential
//
// Redis has no fixed capacity the way the in-memory stores do, but its
// memory is shared all the same: one credential claiming nonces or taking
// one-time tokens without end would fill it (maxmemory with noeviction),
// and then every tenant's writes fail. So [NonceStore] and [OneTimeStore]
// bound what one credential holds, with the semantics of the in-memory
// stores: [NonceStore] at most [Config.MaxNoncesPerKey] unexpired nonces per
// key ID (an error wrapping [httpsig.ErrNonceQuota] beyond it), [OneTimeStore]
// at most the max its caller passes to Put per account and key ID (an error
// wrapping [jwt.ErrOneTimeQuota]). Each credential has a sorted set of its
// entries scored by expiry (nonceq:, onetimeq:); a Lua script on that one
// key drops the expired members, counts the others and reserves a place
// atomically, next to the write of the entry itself (SET NX PX; for a
// nonce in the same pipeline, and deleted again if refused a place or if
// the script fails). So
// the bound holds across instances, and every command still touches one
// key (Redis Cluster); the set costs about as much memory again as the
// entries it counts. A reservation whose write then fails, or whose token
// is consumed while the set cannot be reached, keeps its place until its
// expiry: an error can only make the bound stricter for a while.
//
// # Clocks
//
// Entries expire after a TTL (PX) measured by the caller's clock
// ([Config.Now]): a nonce at the expiry the verifier gives, a one-time
// token's record at its ExpiresAt, a revoked token or session
// [jwt.RevocationMargin] after its expiry, a subject's cut-off [Config.SubjectTTL] after it. So
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
	// MaxNoncesPerKey, used by [NonceStore] only, bounds the unexpired
	// nonces of one key ID (see "Bounds per credential" above). Zero
	// means [DefaultMaxNoncesPerKey]; negative means no bound.
	MaxNoncesPerKey int
}

// DefaultMaxNoncesPerKey is [Config.MaxNoncesPerKey] when zero: the share
// of one key ID in the in-memory nonce store with its defaults
// (httpsig.DefaultMaxNonces / httpsig.DefaultNonceShare), about 27 signed
// requests per second sustained with the verifier's default skew.
const DefaultMaxNoncesPerKey = 1 << 14

// reserveScript reserves a place in a credential's sorted set (KEYS[1])
// for the member ARGV[4], which expires at ARGV[2] (Unix ms): it drops the
// members expired at ARGV[1] (Unix ms), and returns 1 if the member is
// there already or there are fewer than ARGV[3] members (then adding it,
// and keeping the set at least ARGV[5] ms), else 0.
var reserveScript = redis.NewScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[4]) then return 1 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[5]) then redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
return 1
`)

// reserve runs reserveScript on key for member, expiring at exp, with at
// most max members; it reports whether the place is taken.
func (s store) reserve(ctx context.Context, key, member string, exp time.Time, max int) (bool, error) {
	now := s.now()
	n, err := reserveScript.Run(ctx, s.client, []string{key},
		now.UnixMilli(), exp.UnixMilli(), max, member, ttlMillis(exp.Sub(now))).Int()
	return n == 1, err
}

// reserveCmd queues reserveScript on p, as reserve runs it. In a pipeline
// the script is sent whole (EVAL): EVALSHA's fallback on NOSCRIPT needs
// the answer before the next command.
func (s store) reserveCmd(ctx context.Context, p redis.Pipeliner, key, member string, exp time.Time, max int) *redis.Cmd {
	now := s.now()
	return reserveScript.Eval(ctx, p, []string{key},
		now.UnixMilli(), exp.UnixMilli(), max, member, ttlMillis(exp.Sub(now)))
}

// store is what every store holds: the client, the key prefix and the
// clock.
type store struct {
	client    redis.UniversalClient
	prefix    string
	now       func() time.Time
	maxNonces int // < 0: no bound
}

func newStore(cfg Config) (store, error) {
	switch {
	case cfg.Client == nil:
		return store{}, fmt.Errorf("%w: no Redis client", ErrInvalidConfig)
	case cfg.SubjectTTL < 0:
		return store{}, fmt.Errorf("%w: negative SubjectTTL", ErrInvalidConfig)
	}
	s := store{client: cfg.Client, prefix: cfg.Prefix, now: cfg.Now, maxNonces: cfg.MaxNoncesPerKey}
	if s.maxNonces == 0 {
		s.maxNonces = DefaultMaxNoncesPerKey
	}
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
