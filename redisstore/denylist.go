package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/keygate/keygate/jwt"
	"github.com/redis/go-redis/v9"
)

// Denylist is the [jwt.Denylist] in Redis: revocations of access tokens
// shared by every instance that uses the same Redis and prefix.
//
// A revoked token is a key per jti, kept until [jwt.RevocationMargin] past
// the token's expiry; revoking it again only ever lengthens that. A
// revoked session (a refresh-token family, the sid of its access tokens)
// is kept the same way. A subject's cut-off is a key per subject holding the time in Unix
// nanoseconds, kept for [Config.SubjectTTL] past the cut-off; a Lua script
// replaces it only with a later one, so concurrent revocations end at the
// latest, whatever their order. IsRevoked reads the keys in one pipeline:
// one round trip (on Redis Cluster, one per node, in parallel).
//
// It is safe for concurrent use. Make one with [NewDenylist].
type Denylist struct {
	store
	subjectTTL time.Duration
}

var _ jwt.Denylist = (*Denylist)(nil)

// NewDenylist returns a Denylist for cfg. It fails, with an error wrapping
// [ErrInvalidConfig], if cfg has no Client or a negative SubjectTTL.
func NewDenylist(cfg Config) (*Denylist, error) {
	s, err := newStore(cfg)
	if err != nil {
		return nil, err
	}
	d := &Denylist{store: s, subjectTTL: cfg.SubjectTTL}
	if d.subjectTTL == 0 {
		d.subjectTTL = DefaultSubjectTTL
	}
	return d, nil
}

// revokeTokenScript sets the jti's key with a TTL, or lengthens its TTL;
// it never shortens it.
//
// KEYS[1]: the jti's key. ARGV[1]: the TTL, in milliseconds.
var revokeTokenScript = redis.NewScript(`
local ttl = tonumber(ARGV[1])
local cur = redis.call('PTTL', KEYS[1])
if cur ~= -1 and cur < ttl then
	redis.call('SET', KEYS[1], '1', 'PX', ttl)
end
return 1
`)

// revokeSubjectScript stores a subject's cut-off unless a later or equal
// one is stored.
//
// KEYS[1]: the subject's key. ARGV[1]: the cut-off in Unix nanoseconds,
// 20 digits, zero-padded. ARGV[2]: the TTL, in milliseconds.
//
// Lua's numbers are doubles, exact to 2^53 only, so the two 10-digit
// halves are compared in turn.
var revokeSubjectScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
	local a, b = tonumber(string.sub(cur, 1, 10)), tonumber(string.sub(ARGV[1], 1, 10))
	if a > b or (a == b and tonumber(string.sub(cur, 11)) >= tonumber(string.sub(ARGV[1], 11))) then
		return 0
	end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`)

// RevokeToken implements [jwt.Denylist]. The entry is kept until
// until+[jwt.RevocationMargin] by [Config.Now]; when that has already
// passed, the token cannot be accepted anyway and nothing is stored.
func (d *Denylist) RevokeToken(ctx context.Context, jti string, until time.Time) error {
	return d.revokeUntil(ctx, "deny:jti:", jti, until, "revoke token")
}

// revokeUntil keeps the key kind+id (kind "deny:jti:" or "deny:sid:")
// until until+[jwt.RevocationMargin] by [Config.Now], only ever
// lengthening it; when that has already passed, nothing is stored. op
// names the call in errors.
func (d *Denylist) revokeUntil(ctx context.Context, kind, id string, until time.Time, op string) error {
	if err := checkCtx(ctx, op); err != nil {
		return err
	}
	keep := until.Add(jwt.RevocationMargin).Sub(d.now())
	if keep <= 0 {
		return nil
	}
	if err := revokeTokenScript.Run(ctx, d.client, []string{d.key(kind, id)}, ttlMillis(keep)).Err(); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	return nil
}

// RevokeSubject implements [jwt.Denylist]. The cut-off is kept until
// before+SubjectTTL by [Config.Now]; when that has already passed, every
// token it would deny has expired and nothing is stored.
func (d *Denylist) RevokeSubject(ctx context.Context, subject string, before time.Time) error {
	if err := checkCtx(ctx, "revoke subject"); err != nil {
		return err
	}
	keep := before.Add(d.subjectTTL).Sub(d.now())
	if keep <= 0 {
		return nil
	}
	cut := fmt.Sprintf("%020d", unixNanos(before))
	if err := revokeSubjectScript.Run(ctx, d.client, []string{d.key("deny:sub:", subject)}, cut, ttlMillis(keep)).Err(); err != nil {
		return fmt.Errorf("redisstore: revoke subject: %w", err)
	}
	return nil
}

// RevokeSession implements [jwt.Denylist]: a key per session, kept until
// until+[jwt.RevocationMargin] by [Config.Now] and only ever lengthened,
// as RevokeToken's; when that has already passed, nothing is stored.
func (d *Denylist) RevokeSession(ctx context.Context, session string, until time.Time) error {
	return d.revokeUntil(ctx, "deny:sid:", session, until, "revoke session")
}

// IsRevoked implements [jwt.Denylist]: the jti's, the session's and the
// subject's keys in one pipeline, one round trip. It returns an error,
// never false, when Redis does not answer.
func (d *Denylist) IsRevoked(ctx context.Context, jti, subject, session string, issuedAt time.Time) (bool, error) {
	if err := checkCtx(ctx, "check revocation"); err != nil {
		return false, err
	}
	var token, sid *redis.IntCmd
	var cut *redis.StringCmd
	_, err := d.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		token = p.Exists(ctx, d.key("deny:jti:", jti))
		if session != "" {
			sid = p.Exists(ctx, d.key("deny:sid:", session))
		}
		cut = p.Get(ctx, d.key("deny:sub:", subject))
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return false, fmt.Errorf("redisstore: check revocation: %w", err)
	}
	n, err := token.Result()
	if err != nil {
		return false, fmt.Errorf("redisstore: check revocation: %w", err)
	}
	if n > 0 {
		return true, nil
	}
	if sid != nil {
		n, err := sid.Result()
		if err != nil {
			return false, fmt.Errorf("redisstore: check revocation: %w", err)
		}
		if n > 0 {
			return true, nil
		}
	}
	v, err := cut.Result()
	switch {
	case errors.Is(err, redis.Nil):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("redisstore: check revocation: %w", err)
	}
	c, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return false, errors.New("redisstore: check revocation: malformed subject cut-off")
	}
	return unixNanos(issuedAt) < c, nil
}
