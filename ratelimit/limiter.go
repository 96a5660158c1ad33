package ratelimit

import (
	"context"
	"time"
)

// Decision is a limiter's answer for one request.
type Decision struct {
	// Allowed reports whether the request may proceed. It is false
	// whenever the limiter also returns an error.
	Allowed bool
	// Limit is the policy's Limit; 0 for an unlimited policy, in which
	// case the other fields are zero and mean nothing.
	Limit int
	// Remaining is how many more requests would be allowed right now,
	// after this one.
	Remaining int
	// RetryAfter is, for a refused request, how long until the same
	// request would be allowed; zero when Allowed.
	RetryAfter time.Duration
	// Reset is how long until the key has its whole quota (Limit requests)
	// again, if no further request is allowed meanwhile.
	Reset time.Duration
}

// Limiter decides whether a request under a key is within a policy, and
// counts it if so. Implementations are safe for concurrent use and atomic
// per key: N concurrent calls on a fresh key with a policy of Limit L allow
// exactly min(N, L).
//
// The semantics are GCRA with burst Limit and emission interval
// Window/Limit (see [Policy.Interval]); the state of a key is its
// theoretical arrival time (TAT), at most one Window in the future:
//
//	tat     = max(stored TAT, now)
//	newTAT  = tat + interval
//	allowAt = newTAT - Window          (Window here is Limit*interval)
//	if now < allowAt: refused, RetryAfter = allowAt - now, Remaining = 0,
//	                  Reset = tat - now, nothing stored
//	else:             allowed, store newTAT, Remaining = (now-allowAt)/interval,
//	                  Reset = newTAT - now
//
// One TAT is kept per key, whatever the policy: a caller applying several
// policies to one subject gives each its own key (for example by prefixing
// the policy name). A policy with Limit <= 0 is allowed without touching
// any state. An invalid policy gives an error wrapping [ErrInvalidPolicy];
// a cancelled or expired context gives the context's error; in both cases
// nothing is counted.
type Limiter interface {
	// Allow decides on one request under key and counts it if allowed.
	Allow(ctx context.Context, key string, p Policy) (Decision, error)
}

// Peeker is a [Limiter] that can also tell what Allow would decide
// without counting anything (GCRA with a cost of zero; redis_rate's AllowN
// with n = 0).
type Peeker interface {
	Limiter
	// Peek returns the Decision that Allow would return for key at this
	// instant, except that Remaining counts the request not made (it is
	// one more than Allow's), and Reset is measured from the current TAT.
	Peek(ctx context.Context, key string, p Policy) (Decision, error)
}

// gcra decides on one request at now (nanoseconds on any fixed time base)
// for a key whose stored TAT is tat (zero or in the past for a fresh key).
// It returns the decision and the TAT to store, unchanged when refused.
// p must be valid and limited.
func gcra(now, tat int64, p Policy) (Decision, int64) {
	interval := int64(p.Interval())
	tolerance := interval * int64(p.Limit)
	if tat < now {
		tat = now
	}
	newTAT := tat + interval
	allowAt := newTAT - tolerance
	if diff := now - allowAt; diff >= 0 {
		return Decision{
			Allowed:   true,
			Limit:     p.Limit,
			Remaining: int(diff / interval),
			Reset:     time.Duration(newTAT - now),
		}, newTAT
	}
	return Decision{
		Limit:      p.Limit,
		RetryAfter: time.Duration(allowAt - now),
		Reset:      time.Duration(tat - now),
	}, tat
}

// peek is gcra without counting: the decision Allow would make, with
// Remaining including the request not made and Reset from the current TAT.
func peek(now, tat int64, p Policy) Decision {
	d, _ := gcra(now, tat, p)
	if d.Allowed {
		d.Remaining++
		d.Reset = max(time.Duration(tat-now), 0)
	}
	return d
}
