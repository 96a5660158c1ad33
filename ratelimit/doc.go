// Package ratelimit limits how often a caller may do something: requests
// per API key or account, failed authentications per client IP.
//
// # Algorithm
//
// Limiters implement GCRA (the generic cell rate algorithm), the algorithm
// of go-redis/redis_rate, with a burst equal to the limit: a [Policy] of
// Limit requests per Window lets a fresh key make exactly Limit requests at
// once, then one every Window/Limit (the emission interval). The state per
// key is one number, the theoretical arrival time (TAT); a refused request
// changes nothing. A policy with Limit <= 0 is unlimited.
//
// [Limiter] is the interface; [MemoryLimiter] is the embedded
// implementation. A shared implementation (for example a Redis script in
// the style of redis_rate) must give the same answers and pass the
// conformance suite in package ratelimittest.
//
// # Headers
//
// [SetHeaders] writes the fields of draft-ietf-httpapi-ratelimit-headers
// (structured fields, RFC 9651). For a policy named "live" of 20 requests
// per 10 s, after the first request:
//
//	RateLimit-Policy: "live";q=20;w=10
//	RateLimit: "live";r=19;t=1
//
// and on the 21st request within the burst, which is refused:
//
//	RateLimit-Policy: "live";q=20;w=10
//	RateLimit: "live";r=0;t=10
//	Retry-After: 1
//
// # Failed authentication
//
// [FailureLimiter] counts failed authentications per client IP (by default
// 100 a minute) so that guessing keys is bounded; callers pass it the
// resolved client IP, never a raw forwarding header.
package ratelimit
