package audit

import "time"

// RequestMetric is the outcome of one request, as reported to [Metrics].
// Its fields are the event's, reduced to what is bounded enough for a
// metric label; it carries no identifier of the caller.
type RequestMetric struct {
	// AuthMethod is how the caller authenticated: "api_key", "jwt",
	// "hmac" or "one_time", also when a later step refused the request
	// (Decision Deny: a permission, an IP rule, a rate limit); empty when
	// no credential verified (none, a refused credential, a public route).
	AuthMethod string
	// Decision is Allow or Deny.
	Decision Decision
	// Reason is the event's reason code: "ok", "invalid_token",
	// "rate_limited", "geo_forbidden", "http_404", ...
	Reason string
	// Route is the pattern of the matched route ("GET /v1/orders"),
	// empty when no route matched. Patterns come from the mux, so there
	// are as many as routes.
	Route string
	// Status is the response's HTTP status code.
	Status int
	// Latency is the time the handler took, from the request's arrival.
	Latency time.Duration
}

// Metrics counts request decisions and their latency. The middleware calls
// ObserveRequest once per request, on the request path, after the response
// is written: implementations must be fast, must not block, and must be
// safe for concurrent use.
type Metrics interface {
	ObserveRequest(m RequestMetric)
}
