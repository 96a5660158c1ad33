package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/keygate/keygate/ratelimit"
	"github.com/redis/go-redis/v9"
)

// Limiter is the [ratelimit.Limiter] (and [ratelimit.Peeker]) in Redis: a
// rate limit shared by every instance that uses the same Redis and prefix,
// so that a limit of L per window holds across all of them together.
//
// # Algorithm
//
// It gives exactly the answers of [ratelimit.MemoryLimiter]: GCRA with a
// burst of Limit and an emission interval of Window/Limit, one theoretical
// arrival time (TAT) per key, nothing stored for a refused request, every
// Decision field (and so every RateLimit header) computed by the same
// integer formulas in nanoseconds. The step is a Lua script after
// rwz/redis-gcra (Pavel Pravosud's GCRA script, which go-redis/redis_rate
// also uses), reworked to integer nanoseconds; Redis runs it atomically:
//
//	now = TIME                      (the Redis server's clock)
//	d   = max(TAT - now, 0)         (0 for a key not held)
//	if d + interval <= Limit*interval:
//	    TAT = now + d + interval, kept for d + interval (PX, rounded up)
//	return allowed, d
//
// and Go derives the Decision from d exactly as MemoryLimiter does from
// its TAT (see [ratelimit.Limiter]). A key expires when its TAT passes, at
// which point it is the same as a key never seen.
//
// The time comes from Redis (TIME inside the script), not from the
// instances, so instances whose clocks disagree still share one limit.
// The TAT is stored as Unix nanoseconds in a decimal string and split in
// the script into seconds and nanoseconds, because Lua's numbers are
// doubles: d and the policy's durations stay exact integers up to 2^53 ns,
// so the arithmetic is exact for windows up to 104 days (longer ones are
// exact to a few nanoseconds).
//
// go-redis/redis_rate/v10 was not used because its answers are not
// MemoryLimiter's: it computes in floating-point seconds (TIME in
// microseconds, Window/Limit as a float rather than truncated to the
// nanosecond) and truncates Remaining from a float quotient, so a fresh
// key's first request under 100 per minute gets Remaining 98 where
// MemoryLimiter says 99 (6 per 7 s: 4 for 5), and so different RateLimit
// headers; it also keeps keys for whole seconds (EX) and writes on a
// zero-cost call, which Peek must not.
//
// It is safe for concurrent use. Make one with [NewLimiter].
type Limiter struct {
	store
	// clock, for tests, replaces Redis's TIME: it returns the Unix time
	// as seconds and nanoseconds.
	clock func() (sec, nsec int64)
}

var _ ratelimit.Peeker = (*Limiter)(nil)

// NewLimiter returns a Limiter for cfg. It fails, with an error wrapping
// [ErrInvalidConfig], if cfg has no Client. cfg.Now is not used: the time
// is Redis's.
func NewLimiter(cfg Config) (*Limiter, error) {
	s, err := newStore(cfg)
	if err != nil {
		return nil, err
	}
	return &Limiter{store: s}, nil
}

// gcraScript is one GCRA step. It returns {allowed (1 or 0), d}.
//
// KEYS[1]: the key's TAT, Unix nanoseconds as a decimal string.
// ARGV[1]: the emission interval, ns. ARGV[2]: Limit*interval, ns.
// ARGV[3]: 1 to count the request if allowed, 0 to only look (Peek).
// ARGV[4], ARGV[5]: optional, for tests: the time (seconds, nanoseconds)
// to use instead of TIME.
var gcraScript = redis.NewScript(`
local interval, tolerance, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now_s, now_ns
if ARGV[4] then
	now_s, now_ns = tonumber(ARGV[4]), tonumber(ARGV[5])
else
	local t = redis.call('TIME')
	now_s, now_ns = tonumber(t[1]), tonumber(t[2]) * 1000
end
local d = 0
local tat = redis.call('GET', KEYS[1])
if tat then
	d = (tonumber(string.sub(tat, 1, -10)) - now_s) * 1000000000 + (tonumber(string.sub(tat, -9)) - now_ns)
	if d < 0 then
		d = 0
	end
end
if d + interval > tolerance then
	return {0, d}
end
if cost > 0 then
	local t = now_ns + d + interval
	local s = math.floor(t / 1000000000)
	redis.call('SET', KEYS[1], string.format('%d%09d', now_s + s, t - s * 1000000000),
		'PX', math.ceil((d + interval) / 1000000))
end
return {1, d}
`)

// Allow implements [ratelimit.Limiter]. It returns an error, and a
// Decision that is not Allowed, when Redis does not answer.
func (l *Limiter) Allow(ctx context.Context, key string, p ratelimit.Policy) (ratelimit.Decision, error) {
	return l.step(ctx, key, p, 1)
}

// Peek implements [ratelimit.Peeker].
func (l *Limiter) Peek(ctx context.Context, key string, p ratelimit.Policy) (ratelimit.Decision, error) {
	return l.step(ctx, key, p, 0)
}

func (l *Limiter) step(ctx context.Context, key string, p ratelimit.Policy, cost int) (ratelimit.Decision, error) {
	if err := ctx.Err(); err != nil {
		return ratelimit.Decision{Limit: max(p.Limit, 0)}, err
	}
	if err := p.Validate(); err != nil {
		return ratelimit.Decision{Limit: max(p.Limit, 0)}, err
	}
	if p.Unlimited() {
		return ratelimit.Decision{Allowed: true}, nil
	}
	interval := int64(p.Interval())
	args := []any{interval, interval * int64(p.Limit), cost}
	if l.clock != nil {
		sec, nsec := l.clock()
		args = append(args, sec, nsec)
	}
	res, err := gcraScript.Run(ctx, l.client, []string{l.key("rate:", key)}, args...).Int64Slice()
	if err == nil && len(res) != 2 {
		err = fmt.Errorf("the script returned %d values, want 2", len(res))
	}
	if err != nil {
		return ratelimit.Decision{Limit: p.Limit}, fmt.Errorf("redisstore: rate limit: %w", err)
	}
	return decide(res[0] == 1, res[1], p, cost == 0), nil
}

// decide is the Decision for a key whose TAT is d after now (d >= 0): the
// formulas of [ratelimit.Limiter] with now = 0, allowed as the script
// found it (the same as computed here, except for windows beyond 2^53 ns,
// where the script's rounding wins so that the answer matches what was
// stored). For a peek, Remaining counts the request not made, and Reset
// is measured from the current TAT.
func decide(allowed bool, d int64, p ratelimit.Policy, peek bool) ratelimit.Decision {
	interval := int64(p.Interval())
	tolerance := interval * int64(p.Limit)
	newTAT := d + interval
	allowAt := newTAT - tolerance
	if !allowed {
		return ratelimit.Decision{
			Limit:      p.Limit,
			RetryAfter: time.Duration(max(allowAt, 1)),
			Reset:      time.Duration(d),
		}
	}
	dec := ratelimit.Decision{
		Allowed:   true,
		Limit:     p.Limit,
		Remaining: int(max(-allowAt, 0) / interval),
		Reset:     time.Duration(newTAT),
	}
	if peek {
		dec.Remaining++
		dec.Reset = time.Duration(d)
	}
	return dec
}
