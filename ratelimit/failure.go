package ratelimit

import (
	"context"
	"time"
)

// DefaultFailurePolicy is the policy of a [FailureLimiter] made with a zero
// Policy: 100 failed authentications per minute per client IP, in a burst
// of 100, then one every 600 ms.
var DefaultFailurePolicy = Policy{Name: "auth-failures", Limit: 100, Window: time.Minute}

// FailureLimiter bounds failed authentication attempts per client IP, so
// that guessing credentials is bounded. A server asks [FailureLimiter.Blocked]
// before authenticating a request and reports each failure with
// [FailureLimiter.Failed]:
//
//	if blocked, d, err := fl.Blocked(ctx, ip); err != nil || blocked {
//		// 429 with SetHeaders(h, fl.Policy(), d); 503 on error
//	}
//	if !authenticate(r) {
//		fl.Failed(ctx, ip)
//		// 401
//	}
//
// The IP must be the resolved client IP (a trusted-proxy-aware one), never
// a forwarding header taken at face value, or a spoofed header would give
// every attempt a fresh budget. Successful attempts cost nothing.
//
// Failures are counted in the underlying limiter under the key
// Name + ":" + ip. Blocked peeks without counting, so it is exact: an IP
// is blocked once it has no failure left in its budget, that is after
// exactly Limit failures in a burst, and for as long as the next failure
// would be refused (one emission interval, Window/Limit, per failure that
// returns). An IP is therefore never authenticated while its next failure
// would be over the limit.
type FailureLimiter struct {
	l      Peeker
	p      Policy
	prefix string
}

// NewFailureLimiter returns a FailureLimiter counting in l under policy p,
// or [DefaultFailurePolicy] if p is the zero Policy. An unlimited p blocks
// nothing. l must be able to peek (a [MemoryLimiter] can; a shared limiter
// must implement [Peeker] as well).
func NewFailureLimiter(l Peeker, p Policy) *FailureLimiter {
	if p == (Policy{}) {
		p = DefaultFailurePolicy
	}
	name := p.Name
	if name == "" {
		name = "auth-failures"
	}
	return &FailureLimiter{l: l, p: p, prefix: name + ":"}
}

// Policy returns the policy in force, for [SetHeaders].
func (f *FailureLimiter) Policy() Policy { return f.p }

// Blocked reports whether ip has used up its failure budget, without
// counting anything. The Decision is the one [Peeker.Peek] gives: when
// blocked, RetryAfter says when the next attempt may be made. On error the
// caller should refuse the request (fail closed).
func (f *FailureLimiter) Blocked(ctx context.Context, ip string) (bool, Decision, error) {
	d, err := f.l.Peek(ctx, f.prefix+ip, f.p)
	return err != nil || !d.Allowed, d, err
}

// Failed counts one failed authentication from ip. The Decision is not
// Allowed when the failure was already over the limit (which Blocked, asked
// first, normally prevents).
func (f *FailureLimiter) Failed(ctx context.Context, ip string) (Decision, error) {
	return f.l.Allow(ctx, f.prefix+ip, f.p)
}
